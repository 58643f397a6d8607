#!/usr/bin/env bash
# The test command: formatting, lints, every test against real Postgres
# (throwaway local clusters), the same lease suite through testcontainers,
# the loom suite, doc tests, a bounded fuzzing of the parsers, a build of
# the benchmarks, and the Python example through --exec (its psycopg
# installed into a project-local virtual environment first).
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
step() { printf '\n==> [%ss] %s\n' "$((SECONDS - started))" "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check

step "cargo clippy (all targets, -D warnings)"
cargo clippy --workspace --all-targets -- -D warnings

# The benchmarks build in the test profile (clippy has already checked
# them); `scripts/bench.sh` builds and runs them optimised.
step "benchmarks build"
cargo build --workspace --benches

step "loom: model crate under --cfg loom (LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:=2})"
RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS="$LOOM_MAX_PREEMPTIONS" CARGO_TARGET_DIR=target/loom \
  cargo test -p leasecheck-model --release --test loom

step "doc tests"
cargo test --workspace --doc

step "fuzz the parsers (${FUZZ_SECONDS:=20} s per target; scripts/fuzz.sh)"
FUZZ_SECONDS="$FUZZ_SECONDS" LEASECHECK_CARGO_LOCK= scripts/fuzz.sh

step "the Python example's environment (psycopg from PyPI into target/python-venv)"
scripts/python-env.sh

step "lease suite through testcontainers (image ${LEASECHECK_PG_IMAGE:-leasecheck-postgres:15})"
LEASECHECK_POSTGRES=container cargo nextest run -p leasecheck --no-fail-fast -E 'test(/^lease::/)'

step "all tests (throwaway local Postgres clusters, or DATABASE_URL if set)"
cargo nextest run --workspace --no-fail-fast

step "done"
