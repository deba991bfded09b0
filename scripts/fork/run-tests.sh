#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run GLib/TAP test programs and print a summary of the test cases that ran.
#
# Usage: run-tests.sh SUITE-NAME PROGRAM [PROGRAM...]
#
# A PROGRAM argument may carry arguments of its own ("prog -s /a/path").
#
# Each PROGRAM is run with --tap; its full output goes to
# build/test-logs/<suite>/<program>.log.  The summary counts test cases
# (TAP "ok"/"not ok" lines), not programs.  Exits non-zero if any test case
# fails or any program exits with an error.

set -u

suite=$1
shift
logdir=${TEST_LOG_DIR:-build/test-logs}/$suite
mkdir -p "$logdir"

total_pass=0
total_fail=0
total_skip=0
failed_progs=

for cmd in "$@"; do
    prog=${cmd%% *}
    name=$(basename "$prog")
    log="$logdir/$name.log"
    start=$(date +%s)
    # shellcheck disable=SC2086
    $cmd --tap -k > "$log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    pass=$(grep '^ok ' "$log" | grep -v -c '# SKIP')
    skip=$(grep '^ok ' "$log" | grep -c '# SKIP')
    fail=$(grep -c '^not ok ' "$log")
    if [ "$rc" != 0 ] && [ "$fail" = 0 ]; then
        fail=1
        echo "  $name: exited with status $rc" >&2
    fi
    printf '  %-40s %5d passed %4d failed %4d skipped  (%ss)\n' \
        "$name" "$pass" "$fail" "$skip" "$secs"
    if [ "$fail" != 0 ]; then
        grep '^not ok ' "$log" | sed 's/^/    /' | head -n 20
        echo "    log: $log"
        failed_progs="$failed_progs $name"
    fi
    total_pass=$((total_pass + pass))
    total_fail=$((total_fail + fail))
    total_skip=$((total_skip + skip))
done

echo "$suite: $((total_pass + total_fail + total_skip)) test cases ran:" \
     "$total_pass passed, $total_fail failed, $total_skip skipped"
[ -z "$failed_progs" ]
