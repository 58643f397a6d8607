#!/usr/bin/env bash
# Fuzzes the parsers a user feeds (spec files, history files) with cargo-fuzz
# (libFuzzer), for a bounded time per target: see fuzz/README.md.
#
#   FUZZ_SECONDS=60            seconds per target
#   FUZZ_TARGETS="spec history adapter_line" the targets to run (default: all)
#   LEASECHECK_CARGO_LOCK=/tmp/leasecheck-cargo.lock
#                              cargo runs under `flock` on this file when flock
#                              exists (set it empty to run cargo directly)
#
# It runs on the stable toolchain: without a sanitizer (`--sanitizer none`)
# cargo-fuzz passes no -Z flag, and the parsers are safe Rust, where a panic,
# a stack overflow, a timeout or an OOM is what there is to find. The corpus
# libFuzzer grows goes to fuzz/corpus-scratch/ (ignored by git); the seeds in
# fuzz/corpus/ are only read. On a failure it names the input and how to turn
# it into a regression test, runs the other targets, and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
read -r -a targets <<<"${FUZZ_TARGETS:-spec history adapter_line}"
lock=${LEASECHECK_CARGO_LOCK-/tmp/leasecheck-cargo.lock}

step() { printf '\n==> %s\n' "$*"; }
cargo_() {
  if [ -n "$lock" ] && command -v flock >/dev/null 2>&1; then
    flock "$lock" cargo "$@"
  else
    cargo "$@"
  fi
}

if ! cargo fuzz --version >/dev/null 2>&1; then
  step "installing cargo-fuzz (crates.io)"
  cargo_ install cargo-fuzz --locked
fi

# Optimised, with debug assertions and overflow checks (so an overflow is a
# crash too). A cold build takes about 3.5 minutes on 2 cores, nearly all of
# it leasecheck's dependencies; 16 codegen units or opt-level 1 saved under
# 5% of it, so cargo-fuzz's defaults stay.
triple=$(rustc -vV | sed -n 's/^host: //p')
build=(fuzz build --sanitizer none --release --debug-assertions)

step "build the fuzz targets (${targets[*]}; $(rustc --version))"
start=$SECONDS
cargo_ "${build[@]}"
echo "fuzz: built in $((SECONDS - start)) s"

failed=()
for target in "${targets[@]}"; do
  bin=fuzz/target/$triple/release/$target
  [ -x "$bin" ] || { echo "fuzz: no target $target (fuzz/fuzz_targets/$target.rs)" >&2; exit 2; }
  scratch=fuzz/corpus-scratch/$target
  artifacts=fuzz/artifacts/$target
  log=fuzz/artifacts/$target.log
  mkdir -p "$scratch" "$artifacts"
  dict=()
  [ -f "fuzz/dict/$target.dict" ] && dict=("-dict=fuzz/dict/$target.dict")
  # Seeds: fuzz/corpus/<target>/, and for spec files the real ones in specs/.
  seeds=()
  [ -d "fuzz/corpus/$target" ] && seeds+=("fuzz/corpus/$target")
  [ "$target" = spec ] && seeds+=(specs specs/broken)

  step "fuzz $target for ${seconds} s (log: $log)"
  start=$SECONDS
  status=0
  # The first corpus directory is the one libFuzzer writes to.
  "$bin" "$scratch" "${seeds[@]}" "${dict[@]}" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  echo "fuzz: $target ran ${runs:-?} inputs in $((SECONDS - start)) s, exit status $status"
  if [ "$status" -ne 0 ]; then
    failed+=("$target")
    input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    if grep -q -E "panicked at|ERROR: libFuzzer" "$log"; then
      grep -E -A12 "panicked at|ERROR: libFuzzer" "$log" | head -n 30 >&2 || true
    else
      tail -n 30 "$log" >&2
    fi
    cat >&2 <<EOF

fuzz: target $target FAILED on ${input:-an input (see $log)}
  reproduce:  $bin ${input:-<input>}
  minimise:   cargo fuzz tmin --sanitizer none $target ${input:-<input>}
  then fix the parser and keep the input as a regression test:
    cp ${input:-<input>} fuzz/regressions/$target/<what-it-is>
    cargo nextest run -p leasecheck -E 'test(/fuzz_regressions/)'
EOF
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: no failure in ${targets[*]} (${seconds} s each)"
