#!/usr/bin/env bash
# build-image.sh: build the all-in-one Docker image `leasecheck:latest`
# (leasecheck + PostgreSQL 15 + PgBouncer), so that a CI step is just
#
#     docker run --rm -v "$PWD:/data" leasecheck check --spec /data/lease.toml --junit /data/out.xml
#
# (examples/ci/ has the recipes; tests/it/image.rs runs this very command).
#
# Like scripts/build-postgres-image.sh, and with the same code
# (scripts/lib/rootfs.sh), the image is assembled FROM SCRATCH out of files
# of this Debian host, because the Docker engine here cannot pull any image:
#   * the PostgreSQL 15 server (Debian package postgresql-15; the LLVM JIT
#     left out), /usr/share/zoneinfo, the C.UTF-8 locale, dash as /bin/sh;
#   * PgBouncer (Debian package pgbouncer), for `--via pgbouncer`;
#   * the leasecheck binary (debug info stripped), at /usr/local/bin;
#   * chown (coreutils), to hand files written into a mounted directory
#     back to the host user (see the README, "In CI");
#   * every shared library these need, found with ldd and copied from the
#     host: the glibc in the image is the host's, the one the binary was
#     built against (a binary needing a newer glibc fails the build);
#   * a minimal /etc with root, postgres (999) and nobody.
# leasecheck runs as root in the container and, as everywhere it is root,
# starts its throwaway cluster and PgBouncer as `nobody`. ENTRYPOINT is
# ["leasecheck"], WORKDIR /data, STOPSIGNAL SIGINT (leasecheck's Ctrl-C:
# faults undone, server stopped). The image is about 100 MB; a build takes
# a few seconds plus, without --binary, a release build of leasecheck.
#
# Usage: scripts/build-image.sh [--binary PATH] [--force]
#   --binary PATH  put this leasecheck binary in the image (built on this
#                  host or one with the same Debian release); without it,
#                  `cargo build --release --locked` runs first and
#                  target/release/leasecheck is used
#   --force        rebuild even if the image is up to date
# Environment:
#   IMAGE                  image name (default leasecheck:latest)
#   LEASECHECK_CARGO_LOCK  cargo runs under `flock` on this file when flock
#                          exists (default /tmp/leasecheck-cargo.lock; set it
#                          empty to run cargo directly)
#
# Idempotent: the image carries a label with the sha256 of its inputs (these
# scripts, the binary, the PostgreSQL and PgBouncer versions); when the image
# exists with the same label, the script says so and exits 0.

set -euo pipefail

IMAGE=${IMAGE:-leasecheck:latest}
LABEL_KEY=leasecheck.image-inputs-sha256
LOG_TAG=build-image
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=SCRIPTDIR/lib/rootfs.sh
. "$here/lib/rootfs.sh"

binary=
force=0
while [ $# -gt 0 ]; do
    case $1 in
        --binary)
            [ $# -ge 2 ] || die "--binary needs a path"
            binary=$2; shift 2 ;;
        --binary=*) binary=${1#--binary=}; shift ;;
        --force) force=1; shift ;;
        -h|--help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (expected --binary PATH and/or --force)" ;;
    esac
done

rootfs_require_docker

# ------------------------------------------------------------ binary ----
if [ -z "$binary" ]; then
    lock=${LEASECHECK_CARGO_LOCK-/tmp/leasecheck-cargo.lock}
    log "no --binary: cargo build --release --locked"
    build_start=$SECONDS
    if [ -n "$lock" ] && command -v flock >/dev/null 2>&1; then
        (cd "$repo" && flock "$lock" cargo build --release --locked --bin leasecheck)
    else
        (cd "$repo" && cargo build --release --locked --bin leasecheck)
    fi
    log "release build took $((SECONDS - build_start)) s"
    binary=${CARGO_TARGET_DIR:-$repo/target}/release/leasecheck
fi
[ -f "$binary" ] || die "no leasecheck binary at $binary"
binary=$(readlink -f -- "$binary")
is_elf "$binary" || die "$binary is not an ELF executable"
PGBOUNCER=$(command -v pgbouncer || true)
[ -n "$PGBOUNCER" ] || [ ! -x /usr/sbin/pgbouncer ] || PGBOUNCER=/usr/sbin/pgbouncer
[ -n "$PGBOUNCER" ] || die "pgbouncer is not installed on the host (apt-get install pgbouncer, or scripts/setup.sh)"
CHOWN=$(command -v chown) || die "chown is not installed on the host"
rootfs_ensure_host_postgres
pg_version=$("$PG_BIN/postgres" --version)
bouncer_version=$("$PGBOUNCER" --version | head -n1)

inputs_sha=$({
    cat "${BASH_SOURCE[0]}" "$here/lib/rootfs.sh" "$binary"
    printf '%s\n%s\n' "$pg_version" "$bouncer_version"
} | sha256sum | cut -d' ' -f1)

# ------------------------------------------------------ up-to-date check ----
rootfs_lock leasecheck-image
if [ $force = 0 ] && [ "$(rootfs_image_label "$IMAGE" "$LABEL_KEY")" = "$inputs_sha" ]; then
    log "image $IMAGE already exists and is up to date; nothing to do (use --force to rebuild)"
    exit 0
fi

# ------------------------------------------------------------- rootfs ----
start=$(date +%s.%N)
work=$(mktemp -d "${TMPDIR:-/tmp}/leasecheck-image.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
rootfs_init "$work/rootfs"
rootfs_add_postgres
rootfs_copy_file "$PGBOUNCER"
rootfs_copy_file "$CHOWN"
mkdir -p "$ROOT/usr/local/bin" "$ROOT/data"
cp -- "$binary" "$ROOT/usr/local/bin/leasecheck"
chmod 0755 "$ROOT/usr/local/bin/leasecheck"
if command -v strip >/dev/null 2>&1; then
    strip --strip-debug "$ROOT/usr/local/bin/leasecheck" \
        || log "warning: strip failed; the binary keeps its debug info"
fi
rootfs_add_elf_deps "$binary" "$PGBOUNCER" "$CHOWN"
rootfs_finish
rootfs_smoke /usr/local/bin/leasecheck --version
rootfs_smoke "$PGBOUNCER" --version
rootfs_smoke "$PG_BIN/postgres" --version
version=$("$binary" --version 2>/dev/null | head -n1 || echo leasecheck)

# -------------------------------------------------------------- build ----
rootfs_import "$IMAGE" SIGINT "$version with $pg_version and $bouncer_version, assembled from the host" \
    "ENV PATH=/usr/local/bin:$PG_BIN:/usr/sbin:/usr/bin:/bin" \
    "LABEL $LABEL_KEY=\"$inputs_sha\"" \
    "LABEL org.opencontainers.image.description=\"$version with $pg_version and $bouncer_version, assembled from the host's Debian packages by scripts/build-image.sh\"" \
    'WORKDIR /data' \
    'ENTRYPOINT ["leasecheck"]'

end=$(date +%s.%N)
log "built $IMAGE in $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s ($(rootfs_human_size "$IMAGE"))"
