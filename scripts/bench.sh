#!/usr/bin/env bash
# A short run of the benchmarks (a few minutes on a 2-core machine, once
# built), then a report in bench-report/: report.md (every figure with its
# ratio against the floor measured in the same run, and the targets of the
# performance issue, met or missed), SVG plots of contended round latency
# (p50, p99) against candidates next to the floor, and the raw figures.
#
#   scripts/bench.sh            # short run + report
#   BENCH_FULL=1 scripts/bench.sh   # criterion's default times (much longer)
#   scripts/bench.sh --report-only  # redo the report from the last run
#
# Postgres comes from DATABASE_URL, else a throwaway local cluster, else a
# container (see src/provision.rs). Every cargo call holds the lock file
# $LEASECHECK_CARGO_LOCK (default /tmp/leasecheck-cargo.lock) when flock is
# available, so that builds by others never overlap a measurement.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${BENCH_REPORT_DIR:-bench-report}
RAW=target/leasecheck-bench
LOCK=${LEASECHECK_CARGO_LOCK:-/tmp/leasecheck-cargo.lock}

locked() {
  if command -v flock >/dev/null 2>&1; then flock "$LOCK" "$@"; else "$@"; fi
}
step() { printf '\n==> %s\n' "$*" >&2; }

if [[ ${1:-} != --report-only ]]; then
  if [[ -n ${BENCH_FULL:-} ]]; then
    ARGS=()
  else
    ARGS=(--warm-up-time 0.5 --measurement-time 1 --nresamples 5000 --noplot)
  fi
  step "build the benchmarks"
  locked cargo bench --workspace --no-run

  mkdir -p "$RAW"
  date +%s >"$RAW/started"
  t0=$SECONDS
  step "contention, takeover and recording benchmarks (benches/contention.rs)"
  LEASECHECK_BENCH_OUT="$RAW" locked cargo bench -p leasecheck --bench contention -- "${ARGS[@]}" \
    2>&1 | tee "$RAW/contention.log"
  # The uncontended group again, three times, longer: its targets must hold
  # in each run (one short run was met and missed by turns).
  for k in 1 2 3; do
    step "uncontended group, steady run $k of 3 (1 s warm-up, 3 s measurement)"
    rm -rf "$RAW/uncontended-$k" target/criterion/uncontended
    mkdir -p "$RAW/uncontended-$k"
    LEASECHECK_BENCH_OUT="$RAW/uncontended-$k" locked cargo bench -p leasecheck --bench contention -- \
      --warm-up-time 1 --measurement-time 3 --nresamples 5000 --noplot '^uncontended/' \
      2>&1 | tee "$RAW/uncontended-$k.log"
    cp -r target/criterion/uncontended "$RAW/uncontended-$k/criterion"
  done
  step "checker throughput (model/benches/check.rs)"
  locked cargo bench -p leasecheck-model --bench check -- "${ARGS[@]}" '^check_race/' \
    2>&1 | tee "$RAW/check.log"
  step "check-history end to end on synthetic histories (leasecheck synth-history), beside parsing alone"
  locked cargo build --release --bin leasecheck
  bin=target/release/leasecheck
  echo "events,run,parse_s,check_s" >"$RAW/check-history.csv"
  for n in 1000 10000 100000 1000000; do
    file="$RAW/synthetic-$n.jsonl"
    "$bin" synth-history "$file" --events "$n" --seed 1
    events=$("$bin" check-history "$file" --parse-only | cut -d' ' -f1)
    for run in 1 2 3 4 5; do
      a=$EPOCHREALTIME
      "$bin" check-history "$file" --parse-only >/dev/null
      b=$EPOCHREALTIME
      "$bin" check-history "$file" >/dev/null
      c=$EPOCHREALTIME
      awk -v e="$events" -v r="$run" -v a="$a" -v b="$b" -v c="$c" \
        'BEGIN { printf "%d,%d,%.6f,%.6f\n", e, r, b - a, c - b }' >>"$RAW/check-history.csv"
    done
    rm -f "$file"
  done
  step "a battery's wall time: check --spec specs/real/river-current.toml, --jobs 1 and --jobs 4"
  echo "jobs,seconds,exit" >"$RAW/battery.csv"
  for jobs in 1 4; do
    flags=(--jobs "$jobs")
    a=$EPOCHREALTIME
    rc=0
    "$bin" check --spec specs/real/river-current.toml --seed 11 --no-progress "${flags[@]}" \
      >"$RAW/battery-$jobs.txt" 2>&1 || rc=$?
    b=$EPOCHREALTIME
    # 0 or 1 is a verdict; 2 is a run that could not be done
    [[ $rc -le 1 ]] || { cat "$RAW/battery-$jobs.txt" >&2; exit 2; }
    awk -v j="$jobs" -v a="$a" -v b="$b" -v r="$rc" 'BEGIN { printf "%s,%.3f,%d\n", j, b - a, r }' >>"$RAW/battery.csv"
  done
  echo "$((SECONDS - t0))" >"$RAW/seconds"
fi

step "report"
python3 scripts/bench-report.py --raw "$RAW" --criterion target/criterion --out "$OUT"
