#!/usr/bin/env bash
# Detection benchmark of the split-brain catalogue. Run by hand, outside CI
# (a full run takes about 20 minutes on 2 cores).
#
# Every catalogue entry (`leasecheck reproduce --list --json`) is run over
# seeds 1..SEEDS with `leasecheck reproduce NAME --seed S --json`: it is
# detected when it exits 1 with the property it breaks among the findings.
# The correct leases run over the same seeds and must pass (exit 1 is a false
# alarm): the built-in reference lease and the entry's fixed lease
# (`reproduce NAME --fixed`: the incident's fixed release, or specs/reference.toml)
# through every entry's scenario, and `leasecheck check` (the whole battery, the CI gate)
# for the built-in reference and the fenced lease. A run that exits 2 (or
# dies) could not be done: it is an error, neither a detection nor a miss,
# and is listed apart. Time to the first violation is the sum, from the
# JSON report, of the scenario durations up to and including the first
# scenario with a finding (the median over the runs that found one).
#
# Writes a Markdown report (detection per entry, false alarms per correct
# lease and scenario, every miss, false alarm and error with its replay) to
# bench-report/detection.md or the path given, and prints it. Every run's
# JSON and stderr are kept in $DETECTION_RAW (default target/leasecheck-detection).
#
#   scripts/detection.sh                       # 20 seeds, every entry
#   SEEDS=2 scripts/detection.sh /tmp/d.md     # a quick run
#   ENTRIES="check-then-act client-clock" REFERENCE=0 scripts/detection.sh
#
# Environment:
#   SEEDS          seeds per entry and per correct-lease run (default 20)
#   ENTRIES        catalogue entries to run, space- or comma-separated (default all)
#   REFERENCE      0 to skip the correct leases (default 1)
#   CHECKS         0 to skip the correct leases' `check` runs, keeping each entry's
#                  fixed lease and the reference through its scenario (default 1)
#   LEASECHECK_BIN a leasecheck binary to use instead of building one
#   CARGO_LOCK     a lock file every cargo call holds (flock) when set
#   DETECTION_RAW  where each run's JSON and stderr go
#
# Exit status: 0 the goal is met (every entry detected by every seed, no
# false alarm, no error), 1 a miss or a false alarm, 2 an error run or the
# benchmark could not be done.
set -euo pipefail
export LC_ALL=C # decimal points in the timings, whatever the locale
cd "$(dirname "$0")/.."

OUT=${1:-bench-report/detection.md}
SEEDS=${SEEDS:-20}
REFERENCE=${REFERENCE:-1}
CHECKS=${CHECKS:-1}
RAW=${DETECTION_RAW:-target/leasecheck-detection}

die() {
  printf 'detection: %s\n' "$*" >&2
  exit 2
}
# shellcheck source=SCRIPTDIR/lib/leasecheck-bin.sh
. scripts/lib/leasecheck-bin.sh

[[ $SEEDS =~ ^[1-9][0-9]*$ ]] || die "SEEDS must be a positive integer, not '$SEEDS'"
[[ $REFERENCE == 0 || $REFERENCE == 1 ]] || die "REFERENCE must be 0 or 1, not '$REFERENCE'"
[[ $CHECKS == 0 || $CHECKS == 1 ]] || die "CHECKS must be 0 or 1, not '$CHECKS'"
command -v python3 >/dev/null || die "python3 is needed"

rm -rf "$RAW"
mkdir -p "$RAW/runs"

leasecheck_bin "$RAW"
BIN=$RAW/leasecheck
# What was built, for the report (the tree may move on during the run).
BUILT=$(leasecheck_tree)
BUILT="$BUILT, built $(date -u -r "$BIN" '+%Y-%m-%d %H:%M UTC')"
if [[ -n ${LEASECHECK_BIN:-} ]]; then BUILT="$LEASECHECK_BIN (tree now at $BUILT)"; fi

# The catalogue: one line per entry, "name<TAB>arg<TAB>arg...".
"$BIN" reproduce --list --json >"$RAW/catalogue.json" || die "leasecheck reproduce --list --json failed"
mapfile -t CATALOGUE < <(python3 - "$RAW/catalogue.json" "${ENTRIES:-}" <<'PY'
import json, sys

entries = json.load(open(sys.argv[1]))
wanted = [n for n in sys.argv[2].replace(",", " ").split() if n]
names = [e["name"] for e in entries]
unknown = [n for n in wanted if n not in names]
if unknown:
    sys.exit(f"detection: no catalogue entry {', '.join(unknown)}; there are: {', '.join(names)}")
for e in entries:
    if not wanted or e["name"] in wanted:
        assert all("\t" not in a for a in e["scenario"])
        print("\t".join([e["name"], *e["scenario"]]))
PY
)
((${#CATALOGUE[@]} > 0)) || die "no catalogue entry to run"

total=$((${#CATALOGUE[@]} * SEEDS))
if [[ $REFERENCE == 1 ]]; then total=$((total + (2 * ${#CATALOGUE[@]} + 2 * CHECKS) * SEEDS)); fi
done_runs=0
started=$EPOCHREALTIME

# run KIND SUBJECT LABEL SEED -- ARGS...: one leasecheck run, recorded in runs.tsv.
run() {
  local kind=$1 subject=$2 label=$3 seed=$4 rc=0 t0 t1 base
  shift 5
  base="$RAW/runs/$kind.$subject.$label.$seed"
  t0=$EPOCHREALTIME
  "$BIN" "$@" >"$base.json" 2>"$base.err" || rc=$?
  t1=$EPOCHREALTIME
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$kind" "$subject" "$label" "$seed" "$rc" "$t0" "$t1" "$base" "$*" >>"$RAW/runs.tsv"
  done_runs=$((done_runs + 1))
  printf '[%d/%d] %-8s %-28s %-34s seed %-3s exit %s  %.1fs\n' \
    "$done_runs" "$total" "$kind" "$subject" "$label" "$seed" "$rc" \
    "$(python3 -c "print($t1 - $t0)")" >&2
}

printf '==> %d catalogue entries x %d seeds%s (%d runs)\n' "${#CATALOGUE[@]}" "$SEEDS" \
  "$([[ $REFERENCE == 1 ]] && echo ', and the correct leases')" "$total" >&2
for line in "${CATALOGUE[@]}"; do
  IFS=$'\t' read -r -a fields <<<"$line"
  name=${fields[0]}
  for ((seed = 1; seed <= SEEDS; seed++)); do
    run entry "$name" reproduce "$seed" -- reproduce "$name" --seed "$seed" --json
  done
done

if [[ $REFERENCE == 1 ]]; then
  for line in "${CATALOGUE[@]}"; do
    IFS=$'\t' read -r -a fields <<<"$line"
    name=${fields[0]}
    scenario=("${fields[@]:1}")
    for ((seed = 1; seed <= SEEDS; seed++)); do
      run correct reference "scenario-of-$name" "$seed" -- "${scenario[@]}" --seed "$seed" --json
      run correct fixed "scenario-of-$name" "$seed" -- reproduce "$name" --fixed --seed "$seed" --json
    done
  done
  if [[ $CHECKS == 1 ]]; then
    for ((seed = 1; seed <= SEEDS; seed++)); do
      run correct reference check "$seed" -- check --seed "$seed" --json
      run correct fenced check "$seed" -- check --fenced --seed "$seed" --json
    done
  fi
fi

wall=$(python3 -c "print($EPOCHREALTIME - $started)")
mkdir -p "$(dirname "$OUT")"
rc=0
python3 - "$RAW" "$OUT" "$SEEDS" "$wall" "$BUILT" <<'PY' || rc=$?
import datetime, json, os, platform, re, statistics, subprocess, sys

raw, out, seeds, wall, built = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
catalogue = {e["name"]: e for e in json.load(open(f"{raw}/catalogue.json"))}
LEASES = {
    "reference": "reference (built-in)",
    "fixed": "the entry's fixed lease (`reproduce NAME --fixed`)",
    "fenced": "fenced (built-in, --fenced)",
}


def load(base):
    try:
        with open(base + ".json") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def properties(report):
    return [f.get("property", "?") for s in report.get("scenarios", []) for f in s.get("findings", [])]


def first_violation(report):
    """Seconds until the end of the first scenario with a finding, or None."""
    t = 0.0
    for s in report.get("scenarios", []):
        t += s.get("duration", 0.0)
        if s.get("findings"):
            return t
    return None


def why_error(rc, report, base):
    reasons = []
    if report is not None:
        for s in report.get("scenarios", []):
            if s.get("status") in ("error", "interrupted"):
                reasons.append(f"{s['name']}: {s['status']} {s.get('reason') or ''}".strip())
    if not reasons:
        try:
            lines = [l for l in open(base + ".err").read().splitlines() if l.strip()]
        except OSError:
            lines = []
        reasons.append(lines[-1] if lines else ("no JSON report" if report is None else "no reason given"))
    return f"exit {rc}: " + "; ".join(reasons)


runs = []
with open(f"{raw}/runs.tsv") as f:
    for line in f:
        kind, subject, label, seed, rc, t0, t1, base, args = line.rstrip("\n").split("\t")
        report = load(base)
        rc = int(rc)
        runs.append(dict(kind=kind, subject=subject, label=label, seed=int(seed), rc=rc,
                         wall=float(t1) - float(t0), base=base, args=args, report=report,
                         error=rc not in (0, 1) or report is None))


def fmt_s(x):
    return "–" if x is None else f"{x:.2f} s"


def pct(n, d):
    return "–" if d == 0 else f"{100 * n / d:.0f}%"


def cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def postgres():
    for r in runs:
        if r["report"] and r["report"].get("database"):
            db = r["report"]["database"]
            break
    else:
        db = "unknown"
    try:
        v = subprocess.run(["/usr/lib/postgresql/15/bin/postgres", "--version"], capture_output=True,
                           text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        v = ""
    source = db[db.find("(") + 1:db.rfind(")")] if "(" in db else db
    version = re.search(r"\(PostgreSQL\) (\S+)", v)
    return source + (f", PostgreSQL {version.group(1)}" if version and "local cluster" in db else "")


md = []
problems = []  # (severity, text)
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
md.append("# Detection benchmark\n")
md.append(f"`scripts/detection.sh`, {now}, seeds 1..{seeds} per entry and per correct-lease run, "
          f"default settings; {os.cpu_count()} cores ({cpu()}), Postgres: {postgres()}; "
          f"leasecheck {built}; {len(runs)} runs in {wall / 60:.1f} min ({wall:.0f} s).\n")

entry_runs = [r for r in runs if r["kind"] == "entry"]
if entry_runs:
    md.append("## Catalogue: detection\n")
    md.append("An entry is detected by a seed when `leasecheck reproduce NAME --seed S --json` exits 1 "
              "with the property it breaks among the findings. Rate over the seeds that ran to a verdict "
              "(exit 0 or 1); errors (exit 2, or no report) are neither and are counted apart. Time to "
              "the first violation: scenario durations summed up to and including the first scenario "
              "with a finding, median over the runs that found one.\n")
    md.append("| entry | property | detected / seeds | rate | median time to first violation | errors |")
    md.append("|---|---|---|---|---|---|")
    all_det = all_valid = 0
    for name in dict.fromkeys(r["subject"] for r in entry_runs):
        rs = [r for r in entry_runs if r["subject"] == name]
        breaks = catalogue[name]["breaks"]
        valid = [r for r in rs if not r["error"]]
        detected = [r for r in valid if r["rc"] == 1 and breaks in properties(r["report"])]
        times = [t for t in (first_violation(r["report"]) for r in valid) if t is not None]
        errors = [r for r in rs if r["error"]]
        all_det += len(detected)
        all_valid += len(valid)
        median = statistics.median(times) if times else None
        md.append(f"| {name} | {breaks} | {len(detected)}/{len(valid)} | {pct(len(detected), len(valid))} "
                  f"| {fmt_s(median)} | {len(errors) if errors else 0} |")
        for r in valid:
            if r not in detected:
                found = sorted(set(properties(r["report"]))) or ["nothing"]
                problems.append(("MISS", f"{name} seed {r['seed']}: exit {r['rc']}, expected {breaks}, "
                                         f"found {', '.join(found)}; replay: leasecheck {r['args']}; "
                                         f"report {r['base']}.json"))
        for r in errors:
            problems.append(("ERROR", f"{name} seed {r['seed']}: {why_error(r['rc'], r['report'], r['base'])}; "
                                      f"leasecheck {r['args']}; stderr {r['base']}.err"))
    md.append(f"| **all** | | **{all_det}/{all_valid}** | **{pct(all_det, all_valid)}** | | "
              f"{sum(r['error'] for r in entry_runs)} |\n")

correct_runs = [r for r in runs if r["kind"] == "correct"]
if correct_runs:
    md.append("## Correct leases: false alarms\n")
    md.append("The correct leases must pass (exit 0); a false alarm is an exit 1. `X's scenario` is the "
              "catalogue entry X's scenario (`leasecheck reproduce --list`) run on the correct lease; "
              "`check` is the whole default battery (the CI gate).\n")
    md.append("| lease | scenario | false alarms / runs | rate | errors |")
    md.append("|---|---|---|---|---|")
    all_fa = all_valid = 0
    for key in dict.fromkeys((r["subject"], r["label"]) for r in correct_runs):
        rs = [r for r in correct_runs if (r["subject"], r["label"]) == key]
        valid = [r for r in rs if not r["error"]]
        alarms = [r for r in valid if r["rc"] == 1]
        errors = [r for r in rs if r["error"]]
        all_fa += len(alarms)
        all_valid += len(valid)
        label = key[1]
        if label.startswith("scenario-of-"):
            name = label[len("scenario-of-"):]
            label = f"{name}'s: `{' '.join(catalogue[name]['scenario'])}`"
        else:
            label = f"`{label}`"
        md.append(f"| {LEASES.get(key[0], key[0])} | {label} | {len(alarms)}/{len(valid)} "
                  f"| {pct(len(alarms), len(valid))} | {len(errors)} |")
        for r in alarms:
            found = sorted(set(properties(r["report"])))
            problems.append(("FALSE ALARM", f"{LEASES.get(key[0], key[0])} seed {r['seed']}: exit 1, "
                                            f"found {', '.join(found)}; replay: leasecheck {r['args']}; "
                                            f"report {r['base']}.json"))
        for r in errors:
            problems.append(("ERROR", f"{LEASES.get(key[0], key[0])} seed {r['seed']}: "
                                      f"{why_error(r['rc'], r['report'], r['base'])}; leasecheck {r['args']}; "
                                      f"stderr {r['base']}.err"))
    md.append(f"| **all** | | **{all_fa}/{all_valid}** | **{pct(all_fa, all_valid)}** | "
              f"{sum(r['error'] for r in correct_runs)} |\n")

if problems:
    md.append("## Misses, false alarms and errors\n")
    for severity, text in problems:
        md.append(f"- **{severity}** {text}")
    md.append("")
else:
    md.append("Goal met: every entry detected by every seed, no false alarm, no error.\n")

text = "\n".join(md)
with open(out, "w") as f:
    f.write(text + "\n")
print(text)
print(f"written to {out}", file=sys.stderr)
errors = [t for s, t in problems if s == "ERROR"]
if errors:
    bar = "!" * 72
    print(f"\n{bar}\n!! {len(errors)} RUN(S) COULD NOT BE DONE (exit 2 or no report): neither detection nor miss",
          file=sys.stderr)
    for t in errors:
        print(f"!! {t}", file=sys.stderr)
    print(bar, file=sys.stderr)
    sys.exit(2)
sys.exit(1 if problems else 0)
PY
exit "$rc"
