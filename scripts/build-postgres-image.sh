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
# and a one-line `docker build` adds STOPSIGNAL. If PostgreSQL 15 is missing
# on the host, it is installed with apt-get (needs root). A build takes a few
# seconds when the host has PostgreSQL; the image is about 90 MB.
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
# version of this script (sha256 of the script), it prints so and exits 0
# without touching anything. An image built by another version of the script
# is rebuilt.

set -euo pipefail

IMAGE=${IMAGE:-leasecheck-postgres:15}
PG_MAJOR=15
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
PG_LIB=/usr/lib/postgresql/$PG_MAJOR/lib
PG_SHARE=/usr/share/postgresql/$PG_MAJOR
PG_UID=999
PG_GID=999
LABEL_KEY=leasecheck.build-script-sha256

log() { printf 'build-postgres-image: %s\n' "$*" >&2; }
die() { printf 'build-postgres-image: error: %s\n' "$*" >&2; exit 1; }

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

command -v docker >/dev/null 2>&1 || die "the docker CLI is not installed"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 \
    || die "cannot talk to the Docker engine (is dockerd running, and may this user use it?)"

script_sha=$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)

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
if command -v flock >/dev/null 2>&1; then
    exec 9>"${TMPDIR:-/tmp}/leasecheck-postgres-image.lock"
    flock 9
fi
if [ $force = 0 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    have=$(docker image inspect -f "{{ index .Config.Labels \"$LABEL_KEY\" }}" "$IMAGE" 2>/dev/null || true)
    if [ "$have" = "$script_sha" ]; then
        log "image $IMAGE already exists and is up to date; nothing to do (use --force to rebuild)"
        [ $verify = 0 ] || verify_image
        exit 0
    fi
    log "image $IMAGE exists but was built by another version of this script; rebuilding"
fi

# --------------------------------------------------- host PostgreSQL 15 ----
work=$(mktemp -d "${TMPDIR:-/tmp}/leasecheck-pg-image.XXXXXX")
if [ ! -x "$PG_BIN/postgres" ]; then
    [ "$(id -u)" = 0 ] || die "$PG_BIN/postgres is missing and installing it needs root: run 'apt-get install -y postgresql' first"
    log "$PG_BIN/postgres is missing: installing PostgreSQL $PG_MAJOR on the host with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    # Debian 12's `postgresql` is PostgreSQL 15 (postgresql-15, contrib, client).
    apt-get install -y -qq postgresql >"$work/apt.log" 2>&1 \
        || { cat "$work/apt.log" >&2; die "apt-get install -y postgresql failed"; }
    [ -x "$PG_BIN/postgres" ] || die "postgresql-$PG_MAJOR installed but $PG_BIN/postgres is still missing"
fi
for f in "$PG_BIN/initdb" "$PG_SHARE/postgres.bki" /usr/share/zoneinfo/Etc/UTC; do
    [ -e "$f" ] || die "missing on the host: $f (reinstall postgresql-$PG_MAJOR / tzdata)"
done
DASH=$(command -v dash || true)
[ -n "$DASH" ] || die "dash is not installed on the host (apt-get install dash)"
pg_version=$("$PG_BIN/postgres" --version)

# ------------------------------------------------------------- rootfs ----
start=$(date +%s.%N)
ROOT=$work/rootfs
mkdir -p "$ROOT"

# Mirror the host's merged-/usr layout (/lib -> usr/lib, ...), so that the
# ELF interpreter path compiled into every binary (/lib64/ld-linux-...) works.
for d in bin sbin lib lib32 lib64 libx32; do
    if [ -L "/$d" ]; then
        ln -s "$(readlink "/$d")" "$ROOT/$d"
    fi
done

# Copy one host file into the rootfs at its canonical path, plus a symlink
# at the name it was asked for (e.g. libfoo.so.1 -> libfoo.so.1.2.3).
copy_file() {
    local src=$1 real dir base
    real=$(readlink -f -- "$src")
    [ -f "$real" ] || die "cannot copy $src: not a regular file"
    dir=$(readlink -f -- "$(dirname -- "$src")")
    base=$(basename -- "$src")
    mkdir -p -- "$ROOT${real%/*}" "$ROOT$dir"
    [ -e "$ROOT$real" ] || cp -p -- "$real" "$ROOT$real"
    if [ "$dir/$base" != "$real" ] && [ ! -e "$ROOT$dir/$base" ] && [ ! -L "$ROOT$dir/$base" ]; then
        if [ "$dir" = "${real%/*}" ]; then
            ln -s -- "${real##*/}" "$ROOT$dir/$base"
        else
            ln -s -- "$real" "$ROOT$dir/$base"
        fi
    fi
}

# PostgreSQL itself. The LLVM JIT (llvmjit.so and its bitcode) is left out:
# it would drag in libLLVM (~100 MB) and the image runs with jit=off.
mkdir -p "$ROOT/usr/lib/postgresql/$PG_MAJOR" "$ROOT/usr/share/postgresql"
cp -a "$PG_BIN" "$ROOT$PG_BIN"
mkdir -p "$ROOT$PG_LIB"
find "$PG_LIB" -mindepth 1 -maxdepth 1 \
    ! -name 'llvmjit*' ! -name bitcode -exec cp -a -t "$ROOT$PG_LIB" {} +
mkdir -p "$ROOT$PG_SHARE"
find "$PG_SHARE" -mindepth 1 -maxdepth 1 ! -name man -exec cp -a -t "$ROOT$PG_SHARE" {} +
mkdir -p "$ROOT/usr/share"
cp -a /usr/share/zoneinfo "$ROOT/usr/share/zoneinfo"
rm -f "$ROOT/usr/share/zoneinfo/localtime"   # -> /etc/localtime, absent in the image

# The shell for the entrypoint.
copy_file "$DASH"
# `locale -a` and the C.UTF-8 locale: initdb imports the system locales as
# collations and, without them, logs "locale: not found" and "WARNING: no
# usable system locales were found" on stderr.
if [ -x /usr/bin/locale ] && [ -d /usr/lib/locale/C.utf8 ]; then
    copy_file /usr/bin/locale
    mkdir -p "$ROOT/usr/lib/locale"
    cp -a /usr/lib/locale/C.utf8 "$ROOT/usr/lib/locale/"
fi
ln -s dash "$ROOT/usr/bin/sh"
[ -e "$ROOT/bin/sh" ] || { mkdir -p "$ROOT/bin"; ln -s /usr/bin/dash "$ROOT/bin/sh"; }

# Shared libraries of every ELF file copied so far (binaries and extension
# modules), found with ldd; a missing one is an error.
elf_files=("$DASH")
[ ! -x /usr/bin/locale ] || elf_files+=(/usr/bin/locale)
while IFS= read -r -d '' f; do
    if [ "$(head -c4 -- "$f" | od -An -c | tr -d ' ')" = '177ELF' ]; then elf_files+=("$f"); fi
done < <(find "$PG_BIN" "$PG_LIB" -type f ! -name 'llvmjit*' ! -path '*/bitcode/*' -print0)
ldd_out=$work/ldd.txt
for f in "${elf_files[@]}"; do
    LC_ALL=C ldd "$f" 2>&1 | sed "s|^|$f: |" || true
done > "$ldd_out"
if grep -q 'not found' "$ldd_out"; then
    grep 'not found' "$ldd_out" >&2
    die "some shared libraries needed by PostgreSQL are missing on the host"
fi
libs=$(awk '$3 == "=>" && $4 ~ /^\// { print $4 } $2 ~ /^\// && $3 ~ /^\(0x/ { print $2 }' "$ldd_out" | sort -u)
[ -n "$libs" ] || die "ldd found no shared libraries at all (is ldd working?)"
# libgcc_s is dlopen()ed by glibc (backtraces, thread cancellation), not linked.
gcc_s=$(ldconfig -p 2>/dev/null | awk '/libgcc_s\.so\.1 .*x86-64|libgcc_s\.so\.1 \(libc6,/ { print $NF; exit }' || true)
for lib in $libs $gcc_s; do
    copy_file "$lib"
done

# ld.so cache of the image, so the loader finds the multiarch library dirs.
mkdir -p "$ROOT/etc"
for lib in $libs; do dirname -- "$(readlink -f -- "$lib")"; done | sort -u > "$ROOT/etc/ld.so.conf"
if ! ldconfig -r "$ROOT" 2>"$work/ldconfig.err"; then
    log "warning: ldconfig -r failed ($(head -n1 "$work/ldconfig.err")); relying on the loader's default paths"
fi

# Minimal /etc and writable directories. The directories postgres writes to
# are root-owned with mode 1777 (like /tmp), so no chown is needed and the
# archive can be made with every file owned by root.
cat > "$ROOT/etc/passwd" <<EOF
root:x:0:0:root:/root:/bin/sh
postgres:x:$PG_UID:$PG_GID:PostgreSQL administrator:/var/lib/postgresql:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat > "$ROOT/etc/group" <<EOF
root:x:0:
postgres:x:$PG_GID:
nogroup:x:65534:
EOF
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' > "$ROOT/etc/nsswitch.conf"
mkdir -p "$ROOT/tmp" "$ROOT/var/lib/postgresql" "$ROOT/var/run/postgresql" "$ROOT/root" \
    "$ROOT/proc" "$ROOT/sys" "$ROOT/dev" "$ROOT/usr/local/bin"
chmod 1777 "$ROOT/tmp" "$ROOT/var/lib/postgresql" "$ROOT/var/run/postgresql"
chmod 0700 "$ROOT/root"

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

# Smoke test of the rootfs before importing it: can the loader run postgres?
if [ "$(id -u)" = 0 ] && command -v chroot >/dev/null 2>&1; then
    chroot "$ROOT" "$PG_BIN/postgres" --version >/dev/null 2>"$work/chroot.err" \
        || die "postgres does not run inside the assembled rootfs: $(cat "$work/chroot.err")"
fi

# -------------------------------------------------------------- build ----
# Two steps, because neither alone does it all on this engine (20.10):
#  1. `docker import` makes the rootfs one layer with all the settings but one
#     (fast: ~1 s; `docker build` COPYing the rootfs with the legacy builder
#     took 10-15 s on fuse-overlayfs, about 1 s per instruction);
#  2. `docker import --change` refuses STOPSIGNAL, so a one-line Dockerfile
#     FROM the imported image adds it, with the legacy builder (there is no
#     buildx plugin here). If that step fails, the imported image is tagged
#     as it is, and `docker stop` then does a smart (slow) shutdown.
old_id=$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)
log "building $IMAGE from a $(du -sh "$ROOT" | cut -f1) rootfs ($pg_version)"
rootfs_id=$(tar --numeric-owner --owner=0 --group=0 -C "$ROOT" -cf - . |
    docker import \
        --change "ENV PATH=$PG_BIN:/usr/local/bin:/usr/bin:/bin" \
        --change 'ENV PGDATA=/var/lib/postgresql/data' \
        --change "LABEL $LABEL_KEY=\"$script_sha\"" \
        --change "LABEL org.opencontainers.image.description=\"$pg_version, assembled from the host's Debian packages by scripts/build-postgres-image.sh\"" \
        --change 'USER postgres' \
        --change 'WORKDIR /var/lib/postgresql' \
        --change 'EXPOSE 5432' \
        --change 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
        --message "leasecheck: $pg_version assembled from the host" \
        - 2>"$work/import.err") \
    || die "docker import failed: $(cat "$work/import.err")"
if ! printf 'FROM %s\nSTOPSIGNAL SIGINT\n' "$rootfs_id" |
        DOCKER_BUILDKIT=0 docker build --quiet --tag "$IMAGE" - >"$work/build.log" 2>&1; then
    log "warning: could not add STOPSIGNAL SIGINT with docker build; tagging the image without it:"
    sed 's/^/    /' "$work/build.log" >&2
    docker tag "$rootfs_id" "$IMAGE" || die "docker tag failed"
fi
new_id=$(docker image inspect -f '{{.Id}}' "$IMAGE")
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
    # The previous build is now untagged; drop it unless a container uses it.
    docker image rm "$old_id" >/dev/null 2>&1 || true
fi

end=$(date +%s.%N)
log "built $IMAGE in $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s" \
    "($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"

[ $verify = 0 ] || verify_image
