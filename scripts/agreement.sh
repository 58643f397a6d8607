#!/usr/bin/env bash
# Agreement of scenarios side by side with one at a time. Run by hand,
# outside CI (20 seeds of river-current at its own TTL take about 40 minutes
# on 2 cores; the test suite does one seed at a short TTL). It needs the
# local server binaries: side by side runs only on throwaway clusters.
#
# For each seed 1..SEEDS, `leasecheck check --spec SPEC --seed S --json` runs
# twice: with `--jobs 1` (one scenario after another on one server) and with
# `--jobs JOBS` (4 when JOBS is unset: side by side, each on a
# throwaway cluster of its own; see docs/scenarios.md). The two
# agree when they exit alike and every scenario has the same status and the
# same set of properties among its findings (counts and figures may differ:
# they are timings). A run that exits 2 (or dies) could not be done.
#
# Writes a Markdown report (every seed: both exit codes, both wall times,
# agreement; the median and slowest wall time of each way) to
# bench-report/agreement.md or the path given, and prints it. Every run's
# JSON and stderr are kept in $AGREEMENT_RAW (default target/leasecheck-agreement).
#
#   scripts/agreement.sh                         # 20 seeds of river-current
#   SEEDS=2 TTL=0.3 scripts/agreement.sh /tmp/a.md
#
# Environment:
#   SEEDS          seeds (default 20)
#   SPEC           the spec file (default specs/real/river-current.toml)
#   TTL            --ttl for both ways (default: the spec's own)
#   JOBS           --jobs of the side-by-side way (default 4)
#   LEASECHECK_BIN a leasecheck binary to use instead of building one
#   CARGO_LOCK     a lock file every cargo call holds (flock) when set
#   AGREEMENT_RAW  where each run's JSON and stderr go
#
# Exit status: 0 every seed agrees, 1 a seed disagrees, 2 a run could not be
# done or the script could not run.
set -euo pipefail
export LC_ALL=C # decimal points in the timings, whatever the locale
cd "$(dirname "$0")/.."

OUT=${1:-bench-report/agreement.md}
SEEDS=${SEEDS:-20}
SPEC=${SPEC:-specs/real/river-current.toml}
RAW=${AGREEMENT_RAW:-target/leasecheck-agreement}

die() {
  printf 'agreement: %s\n' "$*" >&2
  exit 2
}
# shellcheck source=SCRIPTDIR/lib/leasecheck-bin.sh
. scripts/lib/leasecheck-bin.sh

[[ $SEEDS =~ ^[1-9][0-9]*$ ]] || die "SEEDS must be a positive integer, not '$SEEDS'"
JOBS=${JOBS:-4}
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || die "JOBS must be a positive integer, not '$JOBS'"
[[ -f $SPEC ]] || die "no spec file $SPEC"
command -v python3 >/dev/null || die "python3 is needed"

rm -rf "$RAW"
mkdir -p "$RAW/runs"
leasecheck_bin "$RAW"
BIN=$RAW/leasecheck
BUILT=$(leasecheck_tree)

common=(check --spec "$SPEC" --json --no-progress)
[[ -n ${TTL:-} ]] && common+=(--ttl "$TTL")
side=(--jobs "$JOBS")

# One run: its JSON, stderr, exit code and wall time under runs/.
run() {
  local name=$1
  shift
  local t0=$EPOCHREALTIME rc=0
  "$BIN" "$@" >"$RAW/runs/$name.json" 2>"$RAW/runs/$name.err" || rc=$?
  printf '%s %s\n' "$rc" "$(python3 -c "print($EPOCHREALTIME - $t0)")" >"$RAW/runs/$name.rc"
}

for seed in $(seq 1 "$SEEDS"); do
  printf '==> seed %s of %s\n' "$seed" "$SEEDS" >&2
  run "one-$seed" "${common[@]}" --seed "$seed" --jobs 1
  run "many-$seed" "${common[@]}" --seed "$seed" "${side[@]}"
done

python3 - "$RAW" "$OUT" "$SEEDS" "$SPEC" "${TTL:-its own}" "$JOBS" "$BUILT" <<'PY'
import json, statistics, sys
raw, out, seeds, spec, ttl, jobs, built = sys.argv[1:]
seeds = int(seeds)

def load(name):
    rc, secs = open(f"{raw}/runs/{name}.rc").read().split()
    rc, secs = int(rc), float(secs)
    verdicts = None
    if rc in (0, 1):
        try:
            report = json.load(open(f"{raw}/runs/{name}.json"))
            verdicts = {
                s["name"]: (s["status"], sorted({f["property"] for f in s["findings"]}))
                for s in report["scenarios"]
            }
        except (ValueError, KeyError) as e:
            rc = f"{rc} (unreadable JSON: {e})"
    return rc, secs, verdicts

rows, disagree, errors = [], [], []
times = {"one": [], "many": []}
for seed in range(1, seeds + 1):
    one, many = load(f"one-{seed}"), load(f"many-{seed}")
    times["one"].append(one[1])
    times["many"].append(many[1])
    if one[2] is None or many[2] is None:
        verdict = "error"
        errors.append(seed)
    elif one[0] == many[0] and one[2] == many[2]:
        verdict = "agree"
    else:
        verdict = "DISAGREE"
        diff = [
            f"{n}: {one[2].get(n)} vs {many[2].get(n)}"
            for n in sorted(set(one[2]) | set(many[2]))
            if one[2].get(n) != many[2].get(n)
        ]
        disagree.append((seed, one[0], many[0], diff))
    rows.append(f"| {seed} | {one[0]} | {one[1]:.1f} | {many[0]} | {many[1]:.1f} | {verdict} |")

def summary(way):
    return f"median {statistics.median(times[way]):.1f} s, slowest {max(times[way]):.1f} s"

lines = [
    "# Scenarios side by side against one at a time",
    "",
    f"`scripts/agreement.sh`: `leasecheck check --spec {spec}` (TTL: {ttl}), seeds 1..{seeds},",
    f"with `--jobs 1` and with `--jobs` {jobs}; leasecheck {built}.",
    "Two runs agree when they exit alike and every scenario has the same status and",
    "the same properties among its findings.",
    "",
    f"**{seeds - len(disagree) - len(errors)} of {seeds} seeds agree**"
    + (f", {len(disagree)} disagree" if disagree else "")
    + (f", {len(errors)} could not be done" if errors else "")
    + ".",
    "",
    f"- wall time with `--jobs 1`: {summary('one')}",
    f"- wall time side by side: {summary('many')}",
    "",
    "| seed | exit, --jobs 1 | s | exit, side by side | s | verdicts |",
    "|---:|---:|---:|---:|---:|---|",
    *rows,
]
for seed, a, b, diff in disagree:
    lines += ["", f"## seed {seed} disagrees (exit {a} against {b})", ""]
    lines += [f"- {d}" for d in diff]
if errors:
    lines += ["", "Runs that could not be done (stderr in " + raw + "/runs): seeds "
              + ", ".join(map(str, errors))]
text = "\n".join(lines) + "\n"
open(out, "w").write(text)
print(text)
sys.exit(1 if disagree else 2 if errors else 0)
PY
