#!/usr/bin/env bash
# Flake hunt for the catalogue tests, run by hand, outside CI: reruns
# `cargo nextest run -p leasecheck -E 'test(/catalogue::/)' --no-fail-fast`
# ITERATIONS times (default 20) while stress-ng keeps the CPUs busy, counts
# the failing runs, keeps each failing run's whole output in a log file and
# prints a summary. The suite must not flake: a failure here is a bug to
# find from its log, not something to retry.
#
#   scripts/flake-loop.sh
#   ITERATIONS=5 STRESS_CPUS=0 scripts/flake-loop.sh
#
# Environment:
#   ITERATIONS     how many runs (default 20)
#   STRESS_CPUS    stress-ng --cpu workers (default 2; 0 = one per core)
#   FILTER         the nextest filter expression (default 'test(/catalogue::/)')
#   FLAKE_LOG_DIR  where the logs go (default target/flake-loop/<UTC time>)
#   CARGO_LOCK     a lock file every cargo call holds (flock) when set
#
# Installs stress-ng with apt-get when it is missing (needs root). stress-ng
# is stopped on any exit, Ctrl-C included.
#
# Exit status: 0 every run passed, 1 a run failed, 2 the loop could not run.
set -euo pipefail
cd "$(dirname "$0")/.."

ITERATIONS=${ITERATIONS:-20}
STRESS_CPUS=${STRESS_CPUS:-2}
FILTER=${FILTER:-test(/catalogue::/)}
LOGS=${FLAKE_LOG_DIR:-target/flake-loop/$(date -u +%Y%m%dT%H%M%SZ)}

die() {
  printf 'flake-loop: %s\n' "$*" >&2
  exit 2
}
locked() {
  if [[ -n ${CARGO_LOCK:-} ]]; then flock "$CARGO_LOCK" "$@"; else "$@"; fi
}
step() { printf '\n==> %s\n' "$*" >&2; }

[[ $ITERATIONS =~ ^[1-9][0-9]*$ ]] || die "ITERATIONS must be a positive integer, not '$ITERATIONS'"
[[ $STRESS_CPUS =~ ^[0-9]+$ ]] || die "STRESS_CPUS must be a number, not '$STRESS_CPUS'"

if ! command -v stress-ng >/dev/null 2>&1; then
  step "apt-get install -y stress-ng"
  { apt-get install -y stress-ng || { apt-get update && apt-get install -y stress-ng; }; } >&2 ||
    die "cannot install stress-ng"
fi
mkdir -p "$LOGS"

step "build the test binaries once (cargo nextest run -p leasecheck --no-run)"
locked cargo nextest run -p leasecheck --no-run || die "the tests do not build"

STRESS_PID=
stop_stress() {
  if [[ -n $STRESS_PID ]]; then
    # stress-ng stops its workers when its parent gets SIGTERM.
    kill -TERM "$STRESS_PID" 2>/dev/null || true
    wait "$STRESS_PID" 2>/dev/null || true
    STRESS_PID=
  fi
}
trap stop_stress EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "stress-ng --cpu $STRESS_CPUS in the background"
# --timeout is only a backstop should this script be killed with SIGKILL.
stress-ng --cpu "$STRESS_CPUS" --timeout 6h --quiet >"$LOGS/stress-ng.log" 2>&1 &
STRESS_PID=$!
sleep 2
kill -0 "$STRESS_PID" 2>/dev/null || die "stress-ng did not start: $(cat "$LOGS/stress-ng.log")"

failed=0
unrunnable=0
declare -a summary=()
started=$SECONDS
for ((i = 1; i <= ITERATIONS; i++)); do
  log="$LOGS/run-$i.log"
  t0=$SECONDS
  rc=0
  locked cargo nextest run -p leasecheck -E "$FILTER" --no-fail-fast >"$log" 2>&1 || rc=$?
  took=$((SECONDS - t0))
  if ((rc == 0)); then
    line=$(printf 'run %2d/%d  ok    %4ds  %s' "$i" "$ITERATIONS" "$took" \
      "$(grep -E '^ +Summary ' "$log" | sed -E 's/^ +//' | tail -n 1)")
    rm -f "$log"
  else
    # nextest exits 100 when a test failed; anything else (a build error,
    # a setup error) means the tests did not run, which is no flake.
    if ((rc == 100)); then
      failed=$((failed + 1))
      what=FAIL
    else
      unrunnable=$((unrunnable + 1))
      what="ERROR (exit $rc, the tests did not run)"
    fi
    tests=$(grep -E '^ +(FAIL|TIMEOUT|SIGSEGV|SIGABRT|ABORT) \[' "$log" | sed -E 's/^ +//' | sort -u |
      paste -sd ';' - || true)
    line=$(printf 'run %2d/%d  %s  %4ds  log %s  %s' "$i" "$ITERATIONS" "$what" "$took" "$log" "$tests")
  fi
  summary+=("$line")
  printf '%s\n' "$line" >&2
done
stop_stress

{
  printf '\nflake-loop: %d runs of nextest -E %q under stress-ng --cpu %s, %d s in all\n' \
    "$ITERATIONS" "$FILTER" "$STRESS_CPUS" "$((SECONDS - started))"
  printf '  %s\n' "${summary[@]}"
  printf 'result: %d passed, %d failed, %d did not run; logs in %s\n' \
    "$((ITERATIONS - failed - unrunnable))" "$failed" "$unrunnable" "$LOGS"
} | tee "$LOGS/summary.txt"

if ((failed > 0)); then exit 1; fi
if ((unrunnable > 0)); then exit 2; fi
exit 0
