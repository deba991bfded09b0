#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Check the patch series for upstream (scripts/fork/export-series.sh).
#
# Usage: check-patches.sh BUILD_DIR
#
# Exports the series to BUILD_DIR/patches, runs upstream's checkpatch.pl on
# every patch (errors fail the check, warnings are counted), applies the
# series with git am to a fresh copy of the pristine upstream tree (the git
# repository BUILD_DIR/series-check: made once from the tree, then reset to
# its commit "base" and cleaned on each run), builds it for aarch64-softmmu
# in BUILD_DIR/series-obj and runs the virtio-msg unit tests of the result.
# The build is qemu-system-aarch64, the virtio-msg unit tests and qtests,
# qos-test and the contrib peer: whatever of these the tree has, with
# warnings as errors (upstream's default in a git tree).
#
# On a Debian "+ds" upstream tree (no prebuilt firmware) the build fix
# patches/optional/no-edk2-blobs.patch is committed on top of "base" first
# ("base-local"), as scripts/fork/assemble.sh applies it.
#
# Environment:
#   CHECK_EACH=1   build and run the unit tests after each patch instead
#                  of after the last one only (same build directory,
#                  incremental), to show that each patch builds on its own
#   CCACHE_DIR     ccache's cache (default: ccache's own); ccache is used
#                  when installed, with CCACHE_BASEDIR set to the source
#                  directory
#
# Logs are in BUILD_DIR/series-logs.

set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "$1" && pwd)
# shellcheck disable=SC1091
. "$build/config.sh"
upstream=$(cd "$upstream" && pwd)
src=$build/series-check
obj=$build/series-obj
logs=$build/series-logs
each=${CHECK_EACH:-}

start=$(date +%s)
say() { echo "check-patches: $*" >&2; }
die() { say "$*"; exit 1; }
elapsed() { echo "$(( $(date +%s) - start ))s"; }

rm -rf "$logs"
mkdir -p "$logs"

# --- the series and checkpatch.pl -------------------------------------------
sh "$here/export-series.sh" "$build" 2> "$logs/export.log" || {
    cat "$logs/export.log" >&2
    die "export failed"
}
set --
for p in "$build"/patches/[0-9]*.patch; do
    case "$p" in
    */0000-cover-letter.patch) ;;
    *) set -- "$@" "$p" ;;
    esac
done
[ $# -gt 0 ] || die "no patches in $build/patches"
say "$# patches; checkpatch.pl:"

errors=0
warnings=0
for p in "$@"; do
    name=$(basename "$p" .patch)
    log=$logs/checkpatch-$name.log
    perl "$upstream/scripts/checkpatch.pl" --no-color "$p" > "$log" 2>&1 || :
    total=$(grep '^total: ' "$log" || echo "total: 1 errors, 0 warnings")
    e=$(echo "$total" | sed 's/^total: \([0-9]*\) errors.*/\1/')
    w=$(echo "$total" | sed 's/^total: [0-9]* errors, \([0-9]*\) warnings.*/\1/')
    errors=$((errors + e))
    warnings=$((warnings + w))
    echo "  $name: $e errors, $w warnings"
    if [ "$e" != 0 ] || [ "$w" != 0 ]; then
        grep -A 3 -e '^ERROR' -e '^WARNING' "$log" | sed 's/^/    /' | head -n 40
    fi
done
say "checkpatch.pl: $errors errors, $warnings warnings"

# --- a fresh copy of the base ---------------------------------------------
base_id="$upstream $(cat "$build/upstream/version" 2>/dev/null || :)"
gc() { git -C "$src" "$@"; }
GIT_COMMITTER_NAME=check-patches
GIT_COMMITTER_EMAIL=check-patches@example.invalid
GIT_AUTHOR_NAME=$GIT_COMMITTER_NAME
GIT_AUTHOR_EMAIL=$GIT_COMMITTER_EMAIL
export GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL
if [ -d "$src/.git" ] &&
   [ "$(cat "$src/.git/vmsg-base" 2>/dev/null)" = "$base_id" ] &&
   gc rev-parse -q --verify refs/tags/base-local > /dev/null; then
    gc am --abort > /dev/null 2>&1 || :
    gc checkout -q -f -B check base-local
    gc clean -q -f -d -x
else
    say "making $src from $upstream"
    rm -rf "$src"
    cp -a "$upstream" "$src"
    gc init -q
    gc add -A -f
    gc -c commit.gpgsign=false commit -q -m "base: upstream QEMU" \
        -m "$base_id"
    gc tag base
    if [ ! -e "$src/pc-bios/edk2-aarch64-code.fd.bz2" ] &&
       grep -q '^if unpack_edk2_blobs$' "$src/pc-bios/meson.build"; then
        patch -s -p1 -d "$src" < "$repo/patches/optional/no-edk2-blobs.patch"
        gc -c commit.gpgsign=false commit -q -a \
            -m "local: patches/optional/no-edk2-blobs.patch"
    fi
    gc tag base-local
    gc checkout -q -B check
    echo "$base_id" > "$src/.git/vmsg-base"
fi

# --- configure, build, unit tests -----------------------------------------
if command -v ccache > /dev/null 2>&1 && [ -d /usr/lib/ccache ]; then
    PATH=/usr/lib/ccache:$PATH
    CCACHE_BASEDIR=$src
    CCACHE_NOHASHDIR=1
    export PATH CCACHE_BASEDIR CCACHE_NOHASHDIR
    ccache -z > /dev/null 2>&1 || :
    with_ccache=yes
else
    with_ccache=no
fi

configure() {
    [ -f "$obj/build.ninja" ] && return 0
    say "configuring $obj"
    mkdir -p "$obj"
    # The Python of the main build (./configure), which has meson.  The
    # source is a git tree: warnings are errors (upstream's default there,
    # which meson would switch to anyway when it runs again).
    python=/usr/bin/python3
    [ -x "$python" ] || python=$(command -v python3)
    (cd "$obj" && "$src/configure" --target-list=aarch64-softmmu \
        --python="$python" \
        --disable-docs --disable-install-blobs --disable-tools \
        --disable-guest-agent --enable-slirp --enable-fdt=system) \
        > "$logs/configure.log" 2>&1 || {
        tail -n 30 "$logs/configure.log" >&2
        die "configure failed; see $logs/configure.log"
    }
}

# Build what the tree has of qemu-system-aarch64 and the virtio-msg tests,
# then run its virtio-msg unit tests.  $1 names the step in logs.
build_and_test() {
    step=$1
    blog=$logs/build-$step.log
    # bring build.ninja up to date (meson runs again if meson.build changed)
    nice ninja -C "$obj" build.ninja > "$blog" 2>&1 || {
        tail -n 30 "$blog" >&2
        die "$step: meson failed; see $blog"
    }
    ninja -C "$obj" -t targets all | sed 's/: .*//' > "$logs/targets"
    set -- qemu-system-aarch64 tests/qtest/qos-test \
        contrib/virtio-msg-peer/virtio-msg-rng-peer
    units=
    for f in "$src"/tests/unit/test-virtio-msg-*.c \
             "$src"/tests/qtest/virtio-msg-*-test.c; do
        [ -f "$f" ] || continue
        t=${f#"$src"/}
        t=${t%.c}
        case "$t" in
        tests/unit/*) units="$units $t" ;;
        esac
        set -- "$@" "$t"
    done
    targets=
    for t in "$@"; do
        if grep -qx "$t" "$logs/targets"; then
            targets="$targets $t"
        fi
    done
    # shellcheck disable=SC2086
    nice ninja -C "$obj" $targets >> "$blog" 2>&1 || {
        grep -A 10 -e '^FAILED' -e 'error:' "$blog" | head -n 40 >&2
        die "$step: build failed; see $blog"
    }
    if grep -q -e 'virtio-msg[^:]*:[0-9]*:[0-9]*: warning:' \
            -e 'virtio-msg[^:]*:[0-9]*: warning:' "$blog"; then
        grep -A 5 -e 'virtio-msg[^ ]*: warning:' "$blog" | head -n 40 >&2
        die "$step: compiler warnings in virtio-msg files; see $blog"
    fi
    progs=
    for t in $units; do
        if grep -qx "$t" "$logs/targets"; then
            progs="$progs $obj/$t"
        else
            die "$step: $t is not built (not registered in meson?)"
        fi
    done
    if [ -n "$progs" ]; then
        # shellcheck disable=SC2086
        TEST_LOG_DIR=$logs/tests-$step sh "$here/run-tests.sh" unit $progs \
            > "$logs/unit-$step.log" 2>&1 || {
            cat "$logs/unit-$step.log" >&2
            die "$step: unit tests failed; see $logs/tests-$step"
        }
    fi
    say "$step: built ($(echo "$targets" | wc -w) targets)," \
        "unit tests: $(tail -n 1 "$logs/unit-$step.log" 2>/dev/null ||
                       echo none) [$(elapsed)]"
}

export GIT_COMMITTER_DATE="1970-01-01T00:00:00Z"
configure_done=
if [ -n "$each" ]; then
    k=0
    for p in "$@"; do
        k=$((k + 1))
        gc am -q "$p" > "$logs/am.log" 2>&1 || {
            cat "$logs/am.log" >&2
            die "git am $(basename "$p") failed"
        }
        if [ -z "$configure_done" ]; then
            configure
            configure_done=1
        fi
        build_and_test "$(printf '%02d' "$k")"
    done
else
    gc am -q "$@" > "$logs/am.log" 2>&1 || {
        cat "$logs/am.log" >&2
        die "git am failed"
    }
    configure
    build_and_test series
fi
say "series applies with git am on $(gc rev-parse --short base)" \
    "(upstream $(cat "$src/VERSION"))"

if [ "$with_ccache" = yes ]; then
    ccache -s 2> /dev/null | grep -i -e 'hits' -e 'misses' | head -n 3 |
        sed 's/^/  ccache: /' || :
fi
if [ "$errors" != 0 ]; then
    die "FAIL: checkpatch.pl found $errors errors [$(elapsed)]"
fi
say "PASS ($# patches; checkpatch.pl: $warnings warnings) [$(elapsed)]"
