#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build the virtio-msg libFuzzer targets (tests/fuzz/) with clang,
# AddressSanitizer and UndefinedBehaviorSanitizer, and run each one; then
# QEMU's own generic-fuzz target on virtio-msg-amp-pci.
#
# Usage: fuzz.sh BUILD_DIR [TARGET...]
#
# Targets: codec, spsc, backlog, generic (default: all, or those listed in
# FUZZ_TARGETS).  Binaries of the first three go to BUILD_DIR/fuzz/.
# "generic" is qemu-fuzz-aarch64 --fuzz-target=generic-fuzz-virtio-msg-amp-pci
# (the config of patches/0004), built with --enable-fuzzing and ASan in
# BUILD_DIR/fuzz-qemu from the assembled tree BUILD_DIR/src.  Each run works
# in BUILD_DIR/fuzz/work/TARGET, starting from a copy of
# tests/fuzz/corpus/TARGET (corpus/generic-fuzz-virtio-msg-amp-pci for
# generic; the repository is never written), with the log next to it.
# Crash, leak, timeout and oom files are copied to
# BUILD_DIR/fuzz-artifacts/TARGET/ as well, where they stay until removed.
#
# Environment:
#   FUZZ_TARGETS  targets to run when none is given (default: all four)
#   FUZZ_SECONDS  seconds per target (default 180)
#   FUZZ_RUNS     also stop a target after this many executions
#   FUZZ_KEEP     1: keep the work corpus of an earlier run (default: fresh)
#
# A run uses one core (libFuzzer in-process: no -jobs/-fork).  Prints per
# target executions, coverage (libFuzzer's cov and ft) and crashes; exits
# non-zero if any target crashed, leaked, timed out or ran out of memory.

set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=$(mkdir -p "$1" && cd "$1" && pwd)
shift
targets=${*:-${FUZZ_TARGETS:-codec spsc backlog generic}}
seconds=${FUZZ_SECONDS:-180}
runs=${FUZZ_RUNS:-}
out=$build/fuzz

say() { echo "fuzz: $*" >&2; }

# clang with the compiler-rt runtimes (libFuzzer, ASan, UBSan) of the same
# version: Debian's default-version packages.
sh "$here/install-deps.sh" "$build" clang libclang-rt-dev

# QEMU's osdep headers need config-host.h: configure as 'make' does when
# there is no configured tree yet.
if [ ! -f "$build/obj/config-host.h" ]; then
    (cd "$top" && ./configure --build-dir="$build")
fi

src=$build/src
cflags="-std=gnu11 -g -O1 -Wall -fno-omit-frame-pointer
    -fno-strict-aliasing -fwrapv -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64
    -D_LARGEFILE_SOURCE -I$build/obj -iquote $top/tests/fuzz
    -iquote $top/include -iquote $src -iquote $src/include
    -iquote $src/host/include/$(uname -m) -iquote $src/host/include/generic
    -isystem $src/linux-headers $(pkg-config --cflags glib-2.0)
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
# glib, should an osdep inline need it (none does at -O1)
ldlibs=$(pkg-config --libs glib-2.0)

# QEMU built for libFuzzer: only what qemu-fuzz-aarch64 needs (no tools,
# docs or optional libraries but libfdt, which -M virt requires).
# libqos, which the fuzzer links whole, carries its own copy of
# hw/virtio/virtio-msg-proto.c (patches/0001): the two copies are one
# source, so the linker may keep either.
fuzz_qemu=$build/fuzz-qemu
fuzz_qemu_opts="--cc=clang --cxx=clang++ --host-cc=clang
    --python=/usr/bin/python3 --target-list=aarch64-softmmu
    --enable-fuzzing --enable-asan --without-default-features
    --enable-fdt=system --disable-docs --disable-tools --disable-guest-agent
    --disable-install-blobs --disable-werror
    --extra-cflags=-fno-omit-frame-pointer
    --extra-ldflags=-Wl,--allow-multiple-definition"
build_generic() {
    # The source tree is the main build's: assemble it (a no-op when
    # nothing changed) or, in a fresh clone, fetch, assemble and configure
    # as 'make' does.
    if [ -f "$build/obj/config.status" ] && [ -f "$build/config.sh" ]; then
        upstream=$(. "$build/config.sh" && echo "$upstream")
        (cd "$top" && sh scripts/fork/assemble.sh . "$upstream" "$build/src")
    else
        (cd "$top" && ./configure --build-dir="$build")
    fi
    mkdir -p "$fuzz_qemu"
    # shellcheck disable=SC2086
    set -- $fuzz_qemu_opts
    opts="$*"
    if [ ! -f "$fuzz_qemu/build.ninja" ] ||
       [ "$(cat "$fuzz_qemu/fuzz-configure.opts" 2>/dev/null)" != "$opts" ]; then
        say "configuring $fuzz_qemu"
        # shellcheck disable=SC2086
        (cd "$fuzz_qemu" && "$src/configure" $opts) \
            > "$fuzz_qemu/configure.log" 2>&1 || {
            tail -n 30 "$fuzz_qemu/configure.log" >&2
            say "configure failed; see $fuzz_qemu/configure.log"
            exit 1
        }
        echo "$opts" > "$fuzz_qemu/fuzz-configure.opts"
    fi
    say "building $fuzz_qemu/qemu-fuzz-aarch64 (log: $fuzz_qemu/build.log)"
    nice ninja -C "$fuzz_qemu" qemu-fuzz-aarch64 > "$fuzz_qemu/build.log" 2>&1 || {
        grep -A 10 -e '^FAILED' -e 'error:' "$fuzz_qemu/build.log" |
            head -n 40 >&2
        say "build failed; see $fuzz_qemu/build.log"
        exit 1
    }
}

mkdir -p "$out"
for t in $targets; do
    # Sources under test, and helpers that are not (built without
    # coverage feedback, which would only slow the target down)
    case $t in
    codec)   objs="proto" helpers= ;;
    spsc)    objs="spsc" helpers= ;;
    backlog) objs="backlog spsc" helpers="proto" ;;
    generic) continue ;;
    *) say "unknown target $t"; exit 2 ;;
    esac
    files=$top/tests/fuzz/fuzz-virtio-msg-$t.c
    for o in $objs; do
        files="$files $top/hw/virtio/virtio-msg-$o.c"
    done
    for o in $helpers; do
        # shellcheck disable=SC2086
        clang $cflags -fno-sanitize=fuzzer \
            -c -o "$out/$t-helper-$o.o" "$top/hw/virtio/virtio-msg-$o.c"
        files="$files $out/$t-helper-$o.o"
    done
    say "building $out/fuzz-virtio-msg-$t"
    # shellcheck disable=SC2086
    clang $cflags -o "$out/fuzz-virtio-msg-$t" $files $ldlibs
done

# Last "cov: N ft: M" figures of a libFuzzer log
cov_of() {
    sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\) .*/\1 \2/p' "$1" | tail -n 1
}

stat_of() {
    sed -n "s/^stat::$2: *\([0-9]*\).*/\1/p" "$1" | tail -n 1
}

case " $targets " in
*" generic "*) build_generic ;;
esac

failed=
summary=
for t in $targets; do
    work=$out/work/$t
    if [ "${FUZZ_KEEP:-0}" != 1 ]; then
        rm -rf "$work"
    fi
    mkdir -p "$work/corpus"
    rm -f "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*
    # Longer inputs add little but time: a message, a few hundred ops, or
    # a device brought up through its FIFO and notified (about 900 bytes)
    case $t in
    codec) max_len=300 seeds=$t ;;
    generic) max_len=1536 seeds=generic-fuzz-virtio-msg-amp-pci ;;
    *)     max_len=1024 seeds=$t ;;
    esac
    cp "$top/tests/fuzz/corpus/$seeds"/* "$work/corpus/"
    say "running $t for ${seconds}s${runs:+ (at most $runs executions)}"
    rc=0
    case $t in
    generic)
        # QEMU's global state is not freed between inputs: no leak checks.
        # One QEMU per run, so the RSS limit covers guest RAM (512 MiB)
        # and ASan's shadow and quarantine.
        (cd "$work" && ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} \
            nice "$fuzz_qemu/qemu-fuzz-aarch64" \
            --fuzz-target=generic-fuzz-virtio-msg-amp-pci \
            -max_total_time="$seconds" ${runs:+-runs=$runs} \
            -max_len=$max_len -print_final_stats=1 -timeout=10 \
            -rss_limit_mb=4096 -artifact_prefix="$work/" "$work/corpus") \
            > "$work/log" 2>&1 || rc=$? ;;
    *)
        "$out/fuzz-virtio-msg-$t" -max_total_time="$seconds" \
            ${runs:+-runs=$runs} -max_len=$max_len -print_final_stats=1 \
            -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$work/" \
            "$work/corpus" > "$work/log" 2>&1 || rc=$? ;;
    esac
    # Keep what failed beyond the next run
    for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
        [ -f "$f" ] || continue
        mkdir -p "$build/fuzz-artifacts/$t"
        cp "$f" "$build/fuzz-artifacts/$t/"
    done
    execs=$(stat_of "$work/log" number_of_executed_units)
    speed=$(stat_of "$work/log" average_exec_per_sec)
    # shellcheck disable=SC2046
    set -- $(cov_of "$work/log") - -
    crashes=$(find "$work" -maxdepth 1 -name 'crash-*' | wc -l)
    others=$(find "$work" -maxdepth 1 \( -name 'leak-*' -o -name 'timeout-*' \
             -o -name 'oom-*' \) | wc -l)
    line=$(printf '%-8s executions %-10s exec/s %-7s cov %-5s ft %-6s' \
           "$t" "${execs:-?}" "${speed:-?}" "$1" "$2")
    line="$line crashes $crashes"
    [ "$others" -eq 0 ] || line="$line (+$others leak/timeout/oom)"
    if [ "$crashes" -ne 0 ] || [ "$others" -ne 0 ] || [ "$rc" -ne 0 ]; then
        failed="$failed $t"
        line="$line FAILED (exit $rc), see $work/log"
    fi
    summary="$summary$line
"
done

printf 'fuzz summary (%ss per target):\n%s' "$seconds" "$summary"
if [ -n "$failed" ]; then
    say "failed:$failed"
    exit 1
fi
