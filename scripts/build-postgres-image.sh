#!/usr/bin/env bash
# build-postgres-image.sh: build the local Docker image `leasecheck-postgres:15`
# that the tests start through the `testcontainers` crate.
#
# Why it is built this way: this machine's Docker engine cannot pull any image
# (no registry is reachable), so the image is assembled FROM SCRATCH out of the
# PostgreSQL 15 that Debian installs on the host (/usr/lib/postgresql/15):
#   * the postgres server and client binaries, their shared libraries (found
#     with ldd), /usr/share/postgresql/15 and /usr/share/zoneinfo;
#   * dash as /bin/sh, for the entrypoint; no other userland;
#   * a minimal /etc/passwd and /etc/group with user `postgres` (uid/gid 999).
# The root filesystem becomes the image's one layer through `docker import`,
# and a one-line `docker build` adds STOPSIGNAL; how a rootfs is assembled
# from the host and imported lives in scripts/lib/rootfs.sh (shared with
# scripts/build-image.sh, the all-in-one leasecheck image). If PostgreSQL 15
# is missing on the host, it is installed with apt-get (needs root). A build
# takes a few seconds when the host has PostgreSQL; the image is about 90 MB.
#
# What the image does when started
# (e.g. `docker run -d -p 127.0.0.1::5432 leasecheck-postgres:15`):
#   * runs as the non-root user `postgres`;
#   * on first start, initdb's a fresh cluster in $PGDATA
#     (default /var/lib/postgresql/data): superuser `postgres`, database
#     `postgres`, encoding UTF8, locale C, trust authentication for local and
#     all host connections (no password), then appends to postgresql.conf:
#     listen_addresses='*', max_connections=300, fsync=off, jit=off;
#   * then `exec`s postgres in the foreground (PID 1 is postgres itself), with
#     any arguments given to `docker run` after the image name appended, e.g.
#     `docker run ... leasecheck-postgres:15 -c log_statement=all`.
#   * PostgreSQL logs to STDERR. The server is ready when it prints, once:
#         LOG:  database system is ready to accept connections
#     (initdb prints its progress on stdout and never starts a server, so the
#     line cannot appear early). In testcontainers:
#         WaitFor::message_on_stderr("database system is ready to accept connections")
#   * Port 5432 is EXPOSEd; STOPSIGNAL is SIGINT (fast shutdown).
#   * Environment honoured: PGDATA (data directory; its parent must be writable
#     by uid 999, as /var/lib/postgresql is), TZ (timezone given to initdb,
#     default Etc/UTC).
#   * To keep the data directory off the engine's (slow) fuse-overlayfs, one
#     may mount a tmpfs there:
#         --tmpfs /var/lib/postgresql/data:uid=999,gid=999,mode=0700
#   * psql, pg_isready etc. are on PATH inside the container
#     (`docker exec CONTAINER psql -U postgres`).
#
# Usage: scripts/build-postgres-image.sh [--force] [--verify]
#   --force   rebuild even if the image exists and is up to date
#   --verify  after building (or finding) the image, start a container, wait
#             for the ready line, run `select version()` through the mapped
#             port from the host, then remove the container
# Environment: IMAGE (default leasecheck-postgres:15).
#
# Idempotent: if the image exists and carries the label written by this same
# version of this script (sha256 of it and scripts/lib/rootfs.sh), it prints
# so and exits 0 without touching anything. An image built by another version
# of the script is rebuilt.

set -euo pipefail

IMAGE=${IMAGE:-leasecheck-postgres:15}
LABEL_KEY=leasecheck.build-script-sha256
LOG_TAG=build-postgres-image
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/lib/rootfs.sh
. "$here/lib/rootfs.sh"

force=0
verify=0
for arg in "$@"; do
    case $arg in
        --force) force=1 ;;
        --verify) verify=1 ;;
        -h|--help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $arg (expected --force and/or --verify)" ;;
    esac
done

rootfs_require_docker
script_sha=$(cat "${BASH_SOURCE[0]}" "$here/lib/rootfs.sh" | sha256sum | cut -d' ' -f1)

work=
verify_cid=
cleanup() {
    if [ -n "$verify_cid" ]; then docker rm -f -v "$verify_cid" >/dev/null 2>&1 || true; fi
    if [ -n "$work" ]; then rm -rf -- "$work"; fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- verify ----
verify_image() {
    local cid port ready psql_bin out
    psql_bin=$PG_BIN/psql
    [ -x "$psql_bin" ] || psql_bin=$(command -v psql) || die "verify: no psql on the host"
    cid=$(docker run -d -p 127.0.0.1::5432 "$IMAGE")
    verify_cid=$cid
    log "verify: started container ${cid:0:12}"
    ready=0
    for _ in $(seq 1 300); do
        if docker logs "$cid" 2>&1 >/dev/null | grep -q 'database system is ready to accept connections'; then
            ready=1; break
        fi
        if [ "$(docker inspect -f '{{.State.Running}}' "$cid")" != true ]; then
            docker logs "$cid" >&2 || true
            die "verify: the container exited before postgres was ready"
        fi
        sleep 0.1
    done
    [ $ready = 1 ] || { docker logs "$cid" >&2; die "verify: no ready line on stderr after 30 s"; }
    port=$(docker port "$cid" 5432/tcp | head -n1 | sed 's/.*://')
    out=$(PGCONNECT_TIMEOUT=10 "$psql_bin" -X -h 127.0.0.1 -p "$port" -U postgres -d postgres -Atc 'select version()') \
        || die "verify: psql could not connect to 127.0.0.1:$port"
    log "verify: 127.0.0.1:$port -> $out"
    local n
    n=$(docker logs "$cid" 2>&1 | grep -c 'database system is ready to accept connections' || true)
    [ "$n" = 1 ] || die "verify: the ready line appeared $n times (expected exactly 1)"
    docker rm -f -v "$cid" >/dev/null
    verify_cid=
    log "verify: OK"
}

# ------------------------------------------------------ up-to-date check ----
# Serialise concurrent runs (e.g. several test binaries calling this script).
rootfs_lock leasecheck-postgres-image
if [ $force = 0 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    if [ "$(rootfs_image_label "$IMAGE" "$LABEL_KEY")" = "$script_sha" ]; then
        log "image $IMAGE already exists and is up to date; nothing to do (use --force to rebuild)"
        [ $verify = 0 ] || verify_image
        exit 0
    fi
    log "image $IMAGE exists but was built by another version of this script; rebuilding"
fi

# ------------------------------------------------------------- rootfs ----
rootfs_ensure_host_postgres
pg_version=$("$PG_BIN/postgres" --version)
start=$(date +%s.%N)
work=$(mktemp -d "${TMPDIR:-/tmp}/leasecheck-pg-image.XXXXXX")
rootfs_init "$work/rootfs"
rootfs_add_postgres
rootfs_add_elf_deps
rootfs_finish

cat > "$ROOT/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
# Entrypoint of leasecheck-postgres:15 (see scripts/build-postgres-image.sh).
set -eu
PGBIN=/usr/lib/postgresql/15/bin
PGDATA=${PGDATA:-/var/lib/postgresql/data}
export PGDATA
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    # initdb never starts a server: the ready line can only come from the
    # final postgres below. Its progress goes to stdout.
    TZ=${TZ:-Etc/UTC} "$PGBIN/initdb" -D "$PGDATA" -U postgres -E UTF8 --locale=C \
        --auth=trust --no-sync --no-instructions
    printf '%s\n' \
        '' \
        '# added by the leasecheck-postgres image entrypoint' \
        "listen_addresses = '*'" \
        'max_connections = 300' \
        'fsync = off' \
        'jit = off' \
        "unix_socket_directories = '/var/run/postgresql'" \
        >> "$PGDATA/postgresql.conf"
    printf '%s\n' \
        'host all all 0.0.0.0/0 trust' \
        'host all all ::/0 trust' \
        >> "$PGDATA/pg_hba.conf"
fi
exec "$PGBIN/postgres" -D "$PGDATA" "$@"
EOF
chmod 0755 "$ROOT/usr/local/bin/docker-entrypoint.sh"

rootfs_smoke "$PG_BIN/postgres" --version

# -------------------------------------------------------------- build ----
rootfs_import "$IMAGE" SIGINT "leasecheck: $pg_version assembled from the host" \
    "ENV PATH=$PG_BIN:/usr/local/bin:/usr/bin:/bin" \
    'ENV PGDATA=/var/lib/postgresql/data' \
    "LABEL $LABEL_KEY=\"$script_sha\"" \
    "LABEL org.opencontainers.image.description=\"$pg_version, assembled from the host's Debian packages by scripts/build-postgres-image.sh\"" \
    'USER postgres' \
    'WORKDIR /var/lib/postgresql' \
    'EXPOSE 5432' \
    'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]'

end=$(date +%s.%N)
log "built $IMAGE in $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s ($(rootfs_human_size "$IMAGE"))"

[ $verify = 0 ] || verify_image
