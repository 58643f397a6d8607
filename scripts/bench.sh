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
  step "checker throughput (model/benches/check.rs)"
  locked cargo bench -p leasecheck-model --bench check -- "${ARGS[@]}" '^check_race/' \
    2>&1 | tee "$RAW/check.log"
  echo "$((SECONDS - t0))" >"$RAW/seconds"
fi

step "report"
python3 scripts/bench-report.py --raw "$RAW" --criterion target/criterion --out "$OUT"
