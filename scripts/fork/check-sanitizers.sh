#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build QEMU with AddressSanitizer (and LeakSanitizer) and
# UndefinedBehaviorSanitizer and run the virtio-msg tests under them.
#
# Usage: check-sanitizers.sh BUILD_DIR
#
# The build lives in BUILD_DIR/asan, configured from the assembled source
# tree BUILD_DIR/src with the options of the main build (BUILD_DIR/obj)
# plus --enable-asan --enable-ubsan.  It runs the virtio-msg unit tests, the
# virtio-msg qtests (qos-test: its virtio-msg paths only) and the
# end-to-end test with the sanitized QEMU on both sides.
#
# Every sanitizer report, of a test program or of a QEMU it starts, goes
# to a file BUILD_DIR/asan/reports/{asan,ubsan}.PID; the run fails if any
# such file exists or any test fails.  Test logs are in
# BUILD_DIR/asan/test-logs.  Suppressions of reports that come from
# upstream QEMU code are in scripts/fork/{lsan,ubsan}.supp.
#
# Environment: E2E_BOOT_TIMEOUT (default 600) for the end-to-end test;
# SANITIZERS_SKIP_E2E=1 skips it.

set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=$(mkdir -p "$1" && cd "$1" && pwd)
asan=$build/asan
reports=$asan/reports
logs=$asan/test-logs

start=$(date +%s)
say() { echo "check-sanitizers: $*" >&2; }

# --- build ----------------------------------------------------------------
sh "$here/install-deps.sh" "$build" cpio

# The source tree is the main build's: assemble it (a no-op when nothing
# changed) or, in a fresh clone, fetch, assemble and configure as 'make'
# does.
if [ -f "$build/obj/config.status" ] && [ -f "$build/config.sh" ]; then
    upstream=$(. "$build/config.sh" && echo "$upstream")
    (cd "$top" && sh scripts/fork/assemble.sh . "$upstream" "$build/src")
else
    (cd "$top" && ./configure --build-dir="$build")
fi

# Same upstream configure options as the main build (its config.status
# replays them in the current directory), plus the sanitizers.  Frame
# pointers give full stacks to the fast unwinder of malloc/free (leaks).
mkdir -p "$asan"
if [ ! -f "$asan/build.ninja" ] ||
   [ "$build/obj/config.status" -nt "$asan/config.status" ]; then
    say "configuring $asan"
    (cd "$asan" && sh "$build/obj/config.status" \
        --enable-asan --enable-ubsan \
        --extra-cflags=-fno-omit-frame-pointer) > "$asan/configure.log" 2>&1 || {
        tail -n 30 "$asan/configure.log" >&2
        say "configure failed; see $asan/configure.log"
        exit 1
    }
fi

unit_tests="tests/unit/test-virtio-msg-proto tests/unit/test-virtio-msg-spsc
            tests/unit/test-virtio-msg-backlog"
qtests="tests/qtest/virtio-msg-amp-pci-test tests/qtest/virtio-msg-peer-test
        tests/qtest/virtio-msg-loopback-test tests/qtest/virtio-msg-faults-test
        tests/qtest/virtio-msg-relay-test tests/qtest/virtio-msg-rng-peer-test
        tests/qtest/virtio-msg-vhost-test"

say "building in $asan (log: $asan/build.log)"
# shellcheck disable=SC2086
ninja -C "$asan" qemu-system-aarch64 qemu-img \
    storage-daemon/qemu-storage-daemon tests/qtest/qos-test \
    contrib/virtio-msg-peer/virtio-msg-rng-peer $unit_tests $qtests > "$asan/build.log" 2>&1 || {
    grep -A 10 -e '^FAILED' -e 'error:' "$asan/build.log" | head -n 40 >&2
    say "build failed; see $asan/build.log"
    exit 1
}
# option ROMs of virtio-pci devices (Debian's ipxe-qemu), as for the main build
d=$(find "$asan/qemu-bundle" -path '*/share/qemu' -type d | head -n1)
for rom in /usr/lib/ipxe/qemu/*.rom; do
    [ -e "$rom" ] && [ ! -e "$d/${rom##*/}" ] && ln -s "$rom" "$d/"
done
built=$(date +%s)

# --- sanitizer options ----------------------------------------------------
rm -rf "$reports" "$logs"
mkdir -p "$reports" "$logs"

# log_path gets ".PID" appended: one file per process that reported.
ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:print_summary=1"
ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$reports/asan"
UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:print_summary=1"
UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$reports/ubsan"
LSAN_OPTIONS="print_suppressions=0"
if [ -f "$here/lsan.supp" ]; then
    LSAN_OPTIONS="$LSAN_OPTIONS:suppressions=$here/lsan.supp"
fi
if [ -f "$here/ubsan.supp" ]; then
    UBSAN_OPTIONS="$UBSAN_OPTIONS:suppressions=$here/ubsan.supp"
fi
export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS

failed=

# --- unit tests -----------------------------------------------------------
unit_progs=
for t in $unit_tests; do
    unit_progs="$unit_progs $asan/$t"
done
# shellcheck disable=SC2086
TEST_LOG_DIR=$logs sh "$here/run-tests.sh" unit $unit_progs ||
    failed="$failed unit"

# --- qtests ---------------------------------------------------------------
QTEST_QEMU_BINARY=$asan/qemu-system-aarch64
QTEST_QEMU_IMG=$asan/qemu-img
QTEST_QEMU_STORAGE_DAEMON_BINARY=$asan/storage-daemon/qemu-storage-daemon
G_TEST_SRCDIR=$build/src/tests/qtest
G_TEST_BUILDDIR=$asan/tests/qtest
export QTEST_QEMU_BINARY QTEST_QEMU_IMG QTEST_QEMU_STORAGE_DAEMON_BINARY \
       G_TEST_SRCDIR G_TEST_BUILDDIR

# qos-test: only the paths over virtio-msg ("vmsg"), the vhost-user ones
# included.
qos=$asan/tests/qtest/qos-test
qos_paths=$("$qos" -l | grep -e '^/.*vmsg' |
            sed 's/^/-p /' | tr '\n' ' ')
if [ -z "$qos_paths" ]; then
    say "qos-test lists no virtio-msg path"
    failed="$failed qos-list"
fi
# The flood case of the faults test checks that QEMU's resident memory does
# not grow; ASan's quarantine of freed memory (256 MiB) makes it grow by
# design, so that case runs on its own with the quarantine off (LSan still
# checks for leaks; the other cases keep the quarantine).
flood=/aarch64/virtio-msg-faults/flood
set -- "$qos $qos_paths"
for t in $qtests; do
    case "$t" in
    */virtio-msg-faults-test) set -- "$@" "$asan/$t -s $flood" ;;
    *) set -- "$@" "$asan/$t" ;;
    esac
done
TEST_LOG_DIR=$logs sh "$here/run-tests.sh" qtest "$@" ||
    failed="$failed qtest"
ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=0" TEST_LOG_DIR=$logs \
    sh "$here/run-tests.sh" qtest-no-quarantine \
    "$asan/tests/qtest/virtio-msg-faults-test -p $flood" ||
    failed="$failed qtest-no-quarantine"

# --- end-to-end -----------------------------------------------------------
# Both sides' stderr is in their work directories (kept with E2E_KEEP=1,
# moved to $logs/e2e here).
e2e_result=skipped
if [ -z "${SANITIZERS_SKIP_E2E:-}" ]; then
    t=$(date +%s)
    if E2E_QEMU=$asan/qemu-system-aarch64 E2E_KEEP=1 \
       E2E_QSD=$asan/storage-daemon/qemu-storage-daemon \
       E2E_BOOT_TIMEOUT=${E2E_BOOT_TIMEOUT:-600} \
       bash "$top/tests/e2e/virtio-msg-e2e.sh" "$build" test pci mmio vhost \
           > "$logs/e2e.log" 2>&1; then
        e2e_result="passed ($(( $(date +%s) - t ))s)"
    else
        e2e_result="FAILED ($(( $(date +%s) - t ))s), log: $logs/e2e.log"
        tail -n 20 "$logs/e2e.log" | sed 's/^/    /' >&2
        failed="$failed e2e"
    fi
    mkdir -p "$logs/e2e"
    n=0
    for w in $(sed -n 's,^e2e: logs kept in \(/tmp/vmsg-e2e\.[^ /]*\)$,\1,p' \
               "$logs/e2e.log"); do
        n=$((n + 1))
        for f in "$w"/*.log; do
            [ -f "$f" ] && cp "$f" "$logs/e2e/$n-${f##*/}"
        done
        rm -rf "$w"
    done
    grep -e '^e2e: .*PASS' -e '^e2e: .*test cases ran' "$logs/e2e.log" |
        sed 's/^/  /' || true
fi
echo "e2e: $e2e_result"

# --- reports --------------------------------------------------------------
# GCC's UBSan runtime, linked together with ASan's, prints its reports on
# stderr despite log_path; so do sanitizers whose log file cannot be
# opened.  Every log of a test program (with the stderr of the QEMUs it
# started) is searched, and what is found becomes a report file too.
for f in $(find "$logs" -name '*.log' -type f | sort); do
    if grep -q -e 'runtime error:' -e '==[0-9]*==ERROR: [A-Za-z]*Sanitizer' \
            "$f"; then
        name=$(echo "${f#"$logs"/}" | tr / -)
        grep -n -A 40 -e 'runtime error:' \
            -e '==[0-9]*==ERROR: [A-Za-z]*Sanitizer' "$f" \
            > "$reports/stderr.$name"
    fi
done
# Every QEMU process writes one warning: its coroutines switch stacks with
# swapcontext, which QEMU announces to ASan (the fiber API), so the warning
# is not a report.  Files with nothing else are dropped.
for f in $(find "$reports" -name 'asan.*' -type f); do
    if ! grep -v -q -e "^==[0-9]*==WARNING: ASan doesn't fully support makecontext/swapcontext functions" \
            -e '^$' "$f"; then
        rm -f "$f"
    fi
done
end=$(date +%s)
n_asan=$(find "$reports" -name 'asan.*' -type f | wc -l)
n_ubsan=$(find "$reports" -name 'ubsan.*' -type f | wc -l)
n_stderr=$(find "$reports" -name 'stderr.*' -type f | wc -l)
n_leak=0
for f in $(find "$reports" -type f | sort); do
    if grep -q 'LeakSanitizer' "$f"; then
        n_leak=$((n_leak + 1))
    fi
    echo "--- $f:"
    grep -e '^SUMMARY:' -e 'ERROR:' -e 'runtime error:' "$f" | head -n 5 |
        sed 's/^/    /'
done
n_all=$((n_asan + n_ubsan + n_stderr))
echo "sanitizers: $n_all report files in $reports (ASan/LSan: $n_asan," \
     "of which $n_leak with leaks; UBSan: $n_ubsan; found in test logs:" \
     "$n_stderr)"
echo "sanitizers: build $((built - start))s, tests $((end - built))s," \
     "total $((end - start))s"
if [ "$n_all" != 0 ]; then
    failed="$failed reports"
fi
if [ -n "$failed" ]; then
    echo "sanitizers: FAIL:$failed"
    exit 1
fi
echo "sanitizers: PASS"
