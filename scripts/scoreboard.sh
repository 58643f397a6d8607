#!/usr/bin/env bash
# The real-world scoreboard, measured: every lease of specs/real/ under the
# full `leasecheck check --spec FILE --seed 11` (every fault this machine
# offers), again through PgBouncer (`--via pgbouncer`) and again with the
# candidates' clock 3 s off (`--skew 3000`). Run by hand, outside CI: three
# full checks per lease of the 16 take about 45 minutes on 2 cores (two run at once).
#
# Prints the table's verdict columns per lease (the `check --spec` exit code
# and the safety properties broken per class of fault) and compares them
# with the README's table, cell by cell: a cell that says something else is
# listed, and the script exits 1. The row's own command and what it prints
# are asserted by the test suite (tests/it/real.rs), not here.
#
# Classes of fault (scenario names as `check` prints them):
#   stalls       race, release-and-non-holder, conformance, and takeover/ and
#                zombie/ under client-pause, connection-stall, backend-stall,
#                row-lock, database-pause
#   lost reply   takeover/connection-drop and takeover/backend-kill (the
#                leader's connection lost: a reply cut, its backend killed)
#   crash        takeover/ and zombie/ under crash-restart and failover, and
#                durability
#   PgBouncer,   the safety properties the run through PgBouncer (or with
#   skew         the skewed clock) breaks in a scenario where the direct run
#                did not break it: what that way of running adds; "as direct"
#                when it breaks only what the direct run broke
# A cell is "safe" when no scenario of its class broke a safety property
# (P1, P2, P3, P4, P6, P8, P9), "n/a" when none of them could run; contract
# findings (P5, P7) count in the exit code only.
#
#   scripts/scoreboard.sh              # every lease
#   LEASES="river-current pglock" scripts/scoreboard.sh
#
# Environment:
#   LEASES          files of specs/real/ to run, without .toml (default all)
#   SEED            the seed (default 11, the README's)
#   LEASECHECK_BIN  a leasecheck binary to use instead of building one
#   CARGO_LOCK      a lock file the build holds (flock) when set
#   SCOREBOARD_RAW  where each run's JSON and stderr go (default
#                   target/leasecheck-scoreboard)
#   REUSE           1: run nothing, judge the runs already in SCOREBOARD_RAW
#
# Exit status: 0 the README's table says what the runs found, 1 it does not,
# 2 a run could not be done.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."

SEED=${SEED:-11}
RAW=${SCOREBOARD_RAW:-target/leasecheck-scoreboard}
die() {
  printf 'scoreboard: %s\n' "$*" >&2
  exit 2
}
# shellcheck source=SCRIPTDIR/lib/leasecheck-bin.sh
. scripts/lib/leasecheck-bin.sh
[[ $SEED =~ ^[0-9]+$ ]] || die "SEED must be a number, not '$SEED'"
command -v python3 >/dev/null || die "python3 is needed"

if [[ -n ${LEASES:-} ]]; then
  read -r -a leases <<<"${LEASES//,/ }"
else
  leases=()
  for f in specs/real/*.toml; do leases+=("$(basename "$f" .toml)"); done
fi
for l in "${leases[@]}"; do
  [[ -f specs/real/$l.toml ]] || die "no specs/real/$l.toml"
done

mkdir -p "$RAW"
if [[ ${REUSE:-0} == 1 ]]; then
  :
else
  leasecheck_bin "$RAW"
fi
export BIN=$RAW/leasecheck RAW SEED

# run LEASE MODE: one full check, its JSON in $RAW/LEASE.MODE.json.
run() {
  local lease=$1 mode=$2 extra=() rc=0 t0=$SECONDS
  case $mode in
    direct) ;;
    pgbouncer) extra=(--via pgbouncer) ;;
    skew) extra=(--skew 3000) ;;
  esac
  "$BIN" check --spec "specs/real/$lease.toml" --seed "$SEED" "${extra[@]}" --json \
    >"$RAW/$lease.$mode.json" 2>"$RAW/$lease.$mode.err" || rc=$?
  printf '%-28s %-10s exit %s  %ss\n' "$lease" "$mode" "$rc" "$((SECONDS - t0))" >&2
}
export -f run

if [[ ${REUSE:-0} != 1 ]]; then
  printf '==> %d leases x 3 full checks (seed %s), two at a time\n' "${#leases[@]}" "$SEED" >&2
  for l in "${leases[@]}"; do
    for m in direct pgbouncer skew; do printf '%s %s\n' "$l" "$m"; done
  done | xargs -P 2 -n 2 bash -c 'run "$0" "$1"'
fi

python3 - "$RAW" README.md "${leases[@]}" <<'PY'
import json, re, sys

raw, readme, leases = sys.argv[1], sys.argv[2], sys.argv[3:]
SAFETY = {"P1", "P2", "P3", "P4", "P6", "P8", "P9"}
STALLS = {"client-pause", "connection-stall", "backend-stall", "row-lock", "database-pause"}
CRASH = {"crash-restart", "failover"}


def klass(scenario):
    kind, _, fault = scenario.partition("/")
    if kind == "durability" or fault in CRASH:
        return "crash"
    if fault in ("connection-drop", "backend-kill"):
        return "lost reply"
    if not fault or fault in STALLS:
        return "stalls"
    sys.exit(f"scoreboard: no class for scenario {scenario}")


def load(lease, mode):
    path = f"{raw}/{lease}.{mode}.json"
    try:
        report = json.load(open(path))
    except (OSError, ValueError) as e:
        err = open(f"{raw}/{lease}.{mode}.err").read().strip().splitlines()
        print(f"scoreboard: {lease} {mode}: no report ({e}): {err[-1] if err else ''}", file=sys.stderr)
        sys.exit(2)
    if report["exit_code"] == 2:
        print(f"scoreboard: {lease} {mode} could not be done (exit 2): replay {report['replay']}", file=sys.stderr)
        sys.exit(2)
    return report


def broken(report):
    """(scenario, property) pairs of safety findings."""
    return {
        (s["name"], f["property"].split(" ")[0])
        for s in report["scenarios"]
        for f in s["findings"]
        if f["property"].split(" ")[0] in SAFETY
    }


def cell(props):
    return "**" + ", ".join(sorted(props)) + "**" if props else "safe"


rows = {}
for lease in leases:
    direct, pooled, skewed = (load(lease, m) for m in ("direct", "pgbouncer", "skew"))
    cells = {"check": f"exit {direct['exit_code']}"}
    for c in ("stalls", "lost reply", "crash"):
        ran = [s for s in direct["scenarios"] if klass(s["name"]) == c and s["status"] != "not_applicable"]
        cells[c] = cell({p for s, p in broken(direct) if klass(s) == c}) if ran else "n/a"
    base = broken(direct)
    for c, run in (("pgbouncer", pooled), ("skew", skewed)):
        more = {p for s, p in broken(run) - base}
        cells[c] = cell(more) if more or not broken(run) else "as direct"
    rows[lease] = cells

COLUMNS = ["check", "stalls", "lost reply", "crash", "pgbouncer", "skew"]
print("| spec | `check --spec` | stalls | lost reply | crash, failover | PgBouncer | clock skew |")
print("|---|---|---|---|---|---|---|")
for lease, cells in rows.items():
    print(f"| {lease} | " + " | ".join(cells[c] for c in COLUMNS) + " |")

# The README's row of each lease: the one whose first cell links its spec.
table = {}
for line in open(readme):
    m = re.match(r"\|[^|]*\(specs/real/([a-z0-9-]+)\.toml\)[^|]*\|(.*)\|\s*$", line)
    if m:
        table[m.group(1)] = [c.strip() for c in m.group(2).split("|")]
wrong = 0
for lease, cells in rows.items():
    said = table.get(lease)
    if said is None:
        print(f"README: no row for specs/real/{lease}.toml", file=sys.stderr)
        wrong += 1
        continue
    for i, c in enumerate(COLUMNS):
        if i >= len(said) or said[i] != cells[c]:
            print(f"README: {lease}, column {c}: says {said[i] if i < len(said) else 'nothing'!r}, the run found {cells[c]!r}", file=sys.stderr)
            wrong += 1
if wrong:
    print(f"scoreboard: {wrong} cell(s) of the README's table differ from the runs", file=sys.stderr)
    sys.exit(1)
print("scoreboard: the README's table says what the runs found", file=sys.stderr)
PY
