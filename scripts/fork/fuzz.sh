#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build the virtio-msg libFuzzer targets (tests/fuzz/) with clang,
# AddressSanitizer and UndefinedBehaviorSanitizer, and run each one.
#
# Usage: fuzz.sh BUILD_DIR [TARGET...]
#
# Targets: codec, spsc, backlog (default: all).  Binaries go to
# BUILD_DIR/fuzz/; each run works in BUILD_DIR/fuzz/work/TARGET, starting
# from a copy of tests/fuzz/corpus/TARGET (the repository is never
# written), with crash files and the log next to it.
#
# Environment:
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
targets=${*:-codec spsc backlog}
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

mkdir -p "$out"
for t in $targets; do
    # Sources under test, and helpers that are not (built without
    # coverage feedback, which would only slow the target down)
    case $t in
    codec)   objs="proto" helpers= ;;
    spsc)    objs="spsc" helpers= ;;
    backlog) objs="backlog spsc" helpers="proto" ;;
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

failed=
summary=
for t in $targets; do
    work=$out/work/$t
    if [ "${FUZZ_KEEP:-0}" != 1 ]; then
        rm -rf "$work"
    fi
    mkdir -p "$work/corpus"
    rm -f "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*
    cp "$top/tests/fuzz/corpus/$t"/* "$work/corpus/"
    # Longer inputs add little but time: a message, or a few hundred ops
    case $t in
    codec) max_len=300 ;;
    *)     max_len=1024 ;;
    esac
    say "running $t for ${seconds}s${runs:+ (at most $runs executions)}"
    rc=0
    "$out/fuzz-virtio-msg-$t" -max_total_time="$seconds" ${runs:+-runs=$runs} \
        -max_len=$max_len -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$work/" "$work/corpus" > "$work/log" 2>&1 || rc=$?
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
