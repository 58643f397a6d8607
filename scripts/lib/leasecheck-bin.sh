# shellcheck shell=bash
# Shared by the scripts that run many checks with one leasecheck binary
# (scripts/detection.sh, scripts/agreement.sh, scripts/scoreboard.sh): one
# binary for the whole run, a copy, so that a rebuild by someone else in this
# tree cannot swap it half-way.
#
# Source it after defining `die MESSAGE`, then call:
#   leasecheck_bin DIR   DIR/leasecheck: a copy of $LEASECHECK_BIN when set
#                        (it must be executable), else of the release binary,
#                        built first (holding $CARGO_LOCK with flock when set)
#   leasecheck_tree      print the commit the tree is at, "with uncommitted
#                        changes" when it has any (the tree may move on during
#                        the run: say it before)

leasecheck_bin() {
  local dir=$1
  if [[ -n ${LEASECHECK_BIN:-} ]]; then
    [[ -x $LEASECHECK_BIN ]] || die "LEASECHECK_BIN=$LEASECHECK_BIN is not an executable"
    cp -p "$LEASECHECK_BIN" "$dir/leasecheck"
  else
    printf '==> cargo build --release --bin leasecheck\n' >&2
    if [[ -n ${CARGO_LOCK:-} ]]; then
      flock "$CARGO_LOCK" cargo build --release --bin leasecheck
    else
      cargo build --release --bin leasecheck
    fi
    cp -p target/release/leasecheck "$dir/leasecheck"
  fi
}

leasecheck_tree() {
  local tree
  tree=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  if [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then
    tree="$tree with uncommitted changes"
  fi
  printf '%s\n' "$tree"
}
