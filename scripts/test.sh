#!/usr/bin/env bash
# The test command: formatting, lints, every test against real Postgres
# (throwaway local clusters), the same lease suite through testcontainers,
# the loom suite, doc tests, and a build of the benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, -D warnings)"
cargo clippy --workspace --all-targets -- -D warnings

step "benchmarks build"
cargo bench --workspace --no-run

step "loom: model crate under --cfg loom (LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:=2})"
RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS="$LOOM_MAX_PREEMPTIONS" CARGO_TARGET_DIR=target/loom \
  cargo test -p leasecheck-model --release --test loom

step "doc tests"
cargo test --workspace --doc

step "lease suite through testcontainers (image ${LEASECHECK_PG_IMAGE:-leasecheck-postgres:15})"
LEASECHECK_POSTGRES=container cargo nextest run -p leasecheck --no-fail-fast -E 'test(/^lease::/)'

step "all tests (throwaway local Postgres clusters, or DATABASE_URL if set)"
cargo nextest run --workspace --no-fail-fast
