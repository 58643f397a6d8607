# shellcheck shell=bash
# Shared by the image scripts (scripts/build-postgres-image.sh,
# scripts/build-image.sh): assemble a container root filesystem from files
# of THIS Debian host (its installed packages: PostgreSQL 15, PgBouncer, the
# glibc every binary was linked against) and turn it into a local image with
# `docker import`, because the Docker engine here cannot pull any base image.
#
# Source it after setting LOG_TAG (the prefix of messages), then call:
#   rootfs_require_docker              docker CLI present and engine reachable
#   rootfs_lock NAME                   serialise concurrent builds (flock, fd 9)
#   rootfs_image_label IMAGE KEY       the image's label KEY, or "" if no image
#   rootfs_ensure_host_postgres        install postgresql (15) with apt if missing
#   rootfs_init DIR                    start an empty rootfs at DIR (sets ROOT)
#   rootfs_copy_file PATH              copy one host file (+ the symlink at PATH)
#   rootfs_add_postgres                PostgreSQL 15 server, zoneinfo, C.UTF-8, sh
#   rootfs_add_elf_deps FILE...        every shared library FILE... need (ldd)
#   rootfs_finish                      ld.so cache, /etc/passwd etc., /tmp
#   rootfs_smoke CMD...                run CMD chrooted in the rootfs (as root)
#   rootfs_import IMAGE STOPSIGNAL DOCKER-IMPORT-CHANGE...
#                                      import, add STOPSIGNAL, tag, drop old id
#   rootfs_human_size IMAGE            "86 MB"
# The caller owns the work directory and its cleanup.

PG_MAJOR=15
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
PG_LIB=/usr/lib/postgresql/$PG_MAJOR/lib
PG_SHARE=/usr/share/postgresql/$PG_MAJOR
PG_UID=999
PG_GID=999

log() { printf '%s: %s\n' "${LOG_TAG:-rootfs}" "$*" >&2; }
die() { printf '%s: error: %s\n' "${LOG_TAG:-rootfs}" "$*" >&2; exit 1; }

rootfs_require_docker() {
    command -v docker >/dev/null 2>&1 || die "the docker CLI is not installed"
    docker version --format '{{.Server.Version}}' >/dev/null 2>&1 \
        || die "cannot talk to the Docker engine (is dockerd running, and may this user use it?)"
}

rootfs_lock() {
    if command -v flock >/dev/null 2>&1; then
        exec 9>"${TMPDIR:-/tmp}/$1.lock"
        flock 9
    fi
}

rootfs_image_label() {
    docker image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}

rootfs_ensure_host_postgres() {
    if [ ! -x "$PG_BIN/postgres" ]; then
        [ "$(id -u)" = 0 ] || die "$PG_BIN/postgres is missing and installing it needs root: run 'apt-get install -y postgresql' first"
        log "$PG_BIN/postgres is missing: installing PostgreSQL $PG_MAJOR on the host with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq || die "apt-get update failed"
        # Debian 12's `postgresql` is PostgreSQL 15 (postgresql-15, contrib, client).
        local apt_log
        apt_log=$(mktemp)
        apt-get install -y -qq postgresql >"$apt_log" 2>&1 \
            || { cat "$apt_log" >&2; die "apt-get install -y postgresql failed"; }
        rm -f "$apt_log"
        [ -x "$PG_BIN/postgres" ] || die "postgresql-$PG_MAJOR installed but $PG_BIN/postgres is still missing"
    fi
    local f
    for f in "$PG_BIN/initdb" "$PG_SHARE/postgres.bki" /usr/share/zoneinfo/Etc/UTC; do
        [ -e "$f" ] || die "missing on the host: $f (reinstall postgresql-$PG_MAJOR / tzdata)"
    done
    command -v dash >/dev/null 2>&1 || die "dash is not installed on the host (apt-get install dash)"
}

rootfs_init() {
    ROOT=$1
    mkdir -p "$ROOT"
    # Mirror the host's merged-/usr layout (/lib -> usr/lib, ...), so that the
    # ELF interpreter path compiled into every binary (/lib64/ld-linux-...) works.
    local d
    for d in bin sbin lib lib32 lib64 libx32; do
        if [ -L "/$d" ]; then
            ln -s "$(readlink "/$d")" "$ROOT/$d"
        fi
    done
    ELF_FILES=()
}

# Copy one host file into the rootfs at its canonical path, plus a symlink
# at the name it was asked for (e.g. libfoo.so.1 -> libfoo.so.1.2.3).
rootfs_copy_file() {
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

is_elf() { [ "$(head -c4 -- "$1" | od -An -c | tr -d ' ')" = '177ELF' ]; }

# PostgreSQL itself, its time zones, the C.UTF-8 locale and /bin/sh (dash).
# The LLVM JIT (llvmjit.so and its bitcode) is left out: it would drag in
# libLLVM (~100 MB), and every server these images run has jit=off or no
# need for it. Queues the ELF files for rootfs_add_elf_deps.
rootfs_add_postgres() {
    local dash f
    dash=$(command -v dash)
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

    # The shell (entrypoints, `docker run --entrypoint sh`, CI runners).
    rootfs_copy_file "$dash"
    ELF_FILES+=("$dash")
    # `locale -a` and the C.UTF-8 locale: initdb imports the system locales as
    # collations and, without them, logs "locale: not found" and "WARNING: no
    # usable system locales were found" on stderr.
    if [ -x /usr/bin/locale ] && [ -d /usr/lib/locale/C.utf8 ]; then
        rootfs_copy_file /usr/bin/locale
        ELF_FILES+=(/usr/bin/locale)
        mkdir -p "$ROOT/usr/lib/locale"
        cp -a /usr/lib/locale/C.utf8 "$ROOT/usr/lib/locale/"
    fi
    ln -s dash "$ROOT/usr/bin/sh"
    [ -e "$ROOT/bin/sh" ] || { mkdir -p "$ROOT/bin"; ln -s /usr/bin/dash "$ROOT/bin/sh"; }

    while IFS= read -r -d '' f; do
        if is_elf "$f"; then ELF_FILES+=("$f"); fi
    done < <(find "$PG_BIN" "$PG_LIB" -type f ! -name 'llvmjit*' ! -path '*/bitcode/*' -print0)
}

# The shared libraries of every host ELF file given (and of those queued in
# ELF_FILES by rootfs_add_postgres), found with ldd and copied from the host,
# so the image's glibc is exactly the one they were linked against. A library
# that is not found, or a symbol version the host's glibc lacks, is an error.
# shellcheck disable=SC2120  # FILE... is optional: ELF_FILES may be enough
rootfs_add_elf_deps() {
    local ldd_out libs gcc_s lib f
    ldd_out=$(mktemp)
    for f in "${ELF_FILES[@]}" "$@"; do
        LC_ALL=C ldd "$f" 2>&1 | sed "s|^|$f: |" || true
    done > "$ldd_out"
    if grep -q 'not found' "$ldd_out"; then
        grep 'not found' "$ldd_out" >&2
        rm -f "$ldd_out"
        die "some shared libraries (or versions of them) are missing on the host"
    fi
    libs=$(awk '$3 == "=>" && $4 ~ /^\// { print $4 } $2 ~ /^\// && $3 ~ /^\(0x/ { print $2 }' "$ldd_out" | sort -u)
    rm -f "$ldd_out"
    [ -n "$libs" ] || die "ldd found no shared libraries at all (is ldd working?)"
    # libgcc_s is dlopen()ed by glibc (backtraces, thread cancellation), not linked.
    gcc_s=$(ldconfig -p 2>/dev/null | awk '/libgcc_s\.so\.1 .*x86-64|libgcc_s\.so\.1 \(libc6,/ { print $NF; exit }' || true)
    for lib in $libs $gcc_s; do
        rootfs_copy_file "$lib"
    done
    LIB_DIRS=$(for lib in $libs; do dirname -- "$(readlink -f -- "$lib")"; done | sort -u)
}

# The ld.so cache, a minimal /etc (root, postgres as uid 999, nobody) and the
# writable directories. The directories postgres writes to are root-owned
# with mode 1777 (like /tmp), so the archive can have every file owned by root.
rootfs_finish() {
    mkdir -p "$ROOT/etc"
    printf '%s\n' "$LIB_DIRS" > "$ROOT/etc/ld.so.conf"
    local err
    err=$(mktemp)
    if ! ldconfig -r "$ROOT" 2>"$err"; then
        log "warning: ldconfig -r failed ($(head -n1 "$err")); relying on the loader's default paths"
    fi
    rm -f "$err"
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
}

# Run a command inside the assembled rootfs before importing it (root only:
# chroot needs it); a loader or libc mismatch shows here, not in a container.
rootfs_smoke() {
    if [ "$(id -u)" = 0 ] && command -v chroot >/dev/null 2>&1; then
        local err
        err=$(mktemp)
        chroot "$ROOT" "$@" >/dev/null 2>"$err" \
            || die "$* does not run inside the assembled rootfs: $(cat "$err")"
        rm -f "$err"
    fi
}

# Two steps, because neither alone does it all on this engine (20.10):
#  1. `docker import` makes the rootfs one layer with all the settings but one
#     (fast: ~1 s; `docker build` COPYing the rootfs with the legacy builder
#     took 10-15 s on fuse-overlayfs, about 1 s per instruction);
#  2. `docker import --change` refuses STOPSIGNAL, so a one-line Dockerfile
#     FROM the imported image adds it, with the legacy builder (there is no
#     buildx plugin here). If that step fails, the imported image is tagged
#     as it is, and `docker stop` then sends SIGTERM.
# Usage: rootfs_import IMAGE STOPSIGNAL MESSAGE CHANGE...
rootfs_import() {
    local image=$1 stopsignal=$2 message=$3 old_id new_id rootfs_id err change
    shift 3
    local args=()
    for change in "$@"; do args+=(--change "$change"); done
    old_id=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
    err=$(mktemp)
    log "building $image from a $(du -sh "$ROOT" | cut -f1) rootfs"
    rootfs_id=$(tar --numeric-owner --owner=0 --group=0 -C "$ROOT" -cf - . |
        docker import "${args[@]}" --message "$message" - 2>"$err") \
        || die "docker import failed: $(cat "$err")"
    if ! printf 'FROM %s\nSTOPSIGNAL %s\n' "$rootfs_id" "$stopsignal" |
            DOCKER_BUILDKIT=0 docker build --quiet --tag "$image" - >"$err" 2>&1; then
        log "warning: could not add STOPSIGNAL $stopsignal with docker build; tagging the image without it:"
        sed 's/^/    /' "$err" >&2
        docker tag "$rootfs_id" "$image" || die "docker tag failed"
    fi
    rm -f "$err"
    new_id=$(docker image inspect -f '{{.Id}}' "$image")
    if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
        # The previous build is now untagged; drop it unless a container uses it.
        docker image rm "$old_id" >/dev/null 2>&1 || true
    fi
}

rootfs_human_size() {
    docker image inspect -f '{{.Size}}' "$1" | awk '{ printf "%.0f MB", $1 / 1e6 }'
}
