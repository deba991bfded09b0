#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (c) 2026 The virtio-msg QEMU fork authors
#
# Performance figures of the virtio-msg fork: one table, also written as
# BUILD_DIR/bench/bench.csv.  See tests/bench/README.rst for the method.
#
# Usage: bench.sh BUILD_DIR
#
#   1. the bare-metal guest driver (tests/guest) on virtio-msg-amp-pci and
#      on virtio-blk-pci in the same QEMU build: 4 KiB reads/s at queue
#      depth 1 and 32, 64 KiB sequential MB/s, msg/pci ratios, and the
#      QEMU process's host CPU time per request
#   2. the SPSC queue between two host threads, next to a plain ring and
#      a cache-line flag
#   3. the two-QEMU system (tests/e2e/virtio-msg-e2e.sh bench): request
#      round trip through the link next to a socket ping-pong between two
#      processes; O_DIRECT reads of the stock Linux guest from the proxied
#      disk and from a local virtio-blk-pci disk
#   4. the CPU each QEMU of the two-QEMU system uses with the guest idle
#
# Every figure is the median of BENCH_RUNS (default 5) runs, with min and
# max.  Nothing passes or fails on time: the exit status is non-zero only
# if something could not run (its figures then read n/a).
#
# Needs the main build (BUILD_DIR/obj/qemu-system-aarch64), the host cc,
# aarch64-linux-gnu-gcc (make guest-deps), and for part 3 the guest
# packages and cpio of the end-to-end test (make e2e-deps).

set -u
export LC_ALL=C

build=${1:?usage: bench.sh BUILD_DIR}
build=$(cd "$build" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
src=$build/src
out=$build/bench
qemu=$build/obj/qemu-system-aarch64
runs=${BENCH_RUNS:-5}
cc=${CC:-cc}

# Sizes of the runs (requests, or milliseconds)
g_qd1_count=${BENCH_GUEST_QD1_COUNT:-20000}
g_qd32_count=${BENCH_GUEST_QD32_COUNT:-50000}
g_seq_count=${BENCH_GUEST_SEQ_COUNT:-5000}
thread_ms=${BENCH_THREAD_MS:-500}
ipc_ms=${BENCH_IPC_MS:-500}

case $runs in
''|*[!0-9]*|0) echo "bench: BENCH_RUNS must be a positive number" >&2
               exit 2 ;;
esac

say() { echo "bench: $*" >&2; }

failed=
fail() {
    say "FAILED: $*"
    failed="$failed $1"
}

started=$(date +%s)
rm -rf "$out"
mkdir -p "$out/logs"
samples=$out/samples.txt
: >"$samples"

# sample KEY VALUE: one measurement
sample() {
    echo "$1 $2" >>"$samples"
}

# --- helpers ----------------------------------------------------------------

if [ ! -x "$qemu" ] || [ ! -f "$build/obj/config-host.h" ]; then
    say "$qemu is not built (run make)"
    exit 2
fi
say "building the helpers into $out"
qemu_cflags="-std=gnu11 -O2 -g -Wall -fno-strict-aliasing -fwrapv
    -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -D_LARGEFILE_SOURCE
    -I$build/obj -iquote $top/include -iquote $src -iquote $src/include
    -iquote $src/host/include/$(uname -m) -iquote $src/host/include/generic
    -isystem $src/linux-headers $(pkg-config --cflags glib-2.0) -pthread"
for h in bench-run bench-ipc; do
    "$cc" -O2 -g -Wall -o "$out/$h" "$top/tests/bench/$h.c" || {
        say "cannot build $h"
        exit 2
    }
done
# shellcheck disable=SC2086,SC2046
"$cc" $qemu_cflags -o "$out/bench-spsc" "$top/tests/bench/bench-spsc.c" \
    "$top/hw/virtio/virtio-msg-spsc.c" $(pkg-config --libs glib-2.0) || {
    say "cannot build bench-spsc"
    exit 2
}

# field NAME LINE: the value of NAME=VALUE in LINE
field() {
    echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1
}

# --- 1. the guest driver on both transports --------------------------------

guest_elf=$build/guest/guest.elf
guest_img=$out/guest.img

# run_guest LOG TRANSPORT QD BS COUNT: one boot of the bench guest under
# bench-run; prints bench-run's line, the guest's log in LOG
run_guest() {
    case $2 in
    msg) devs="-device virtio-msg-amp-pci,id=amp0
               -device virtio-blk-device,drive=d0,bus=amp0.fifo0" ;;
    pci) devs="-device virtio-blk-pci,drive=d0" ;;
    esac
    # shellcheck disable=SC2086
    "$out/bench-run" 300 "$1" "$qemu" -M virt -cpu cortex-a57 -m 256M \
        -nographic -no-reboot -nic none -kernel "$guest_elf" \
        -append "transport=$2 test=bench qd=$3 bs=$4 count=$5" \
        -drive if=none,id=d0,file="$guest_img",format=raw $devs
}

# guest_run TAG TRANSPORT QD BS COUNT: one measured run; records
# g.TAG.TRANSPORT.{us,cpu} (guest-timed microseconds, QEMU CPU
# microseconds); false if it failed
guest_run() {
    gr_log=$out/logs/guest-$1-$2.log
    gr_res=$(run_guest "$gr_log" "$2" "$3" "$4" "$5") || return 1
    gr_line=$(tr -d '\r' <"$gr_log" | grep "^bench: transport=")
    if [ "$(field status "$gr_res")" != 0 ] || [ -z "$gr_line" ] ||
       ! tr -d '\r' <"$gr_log" | grep -q "^guest-test: PASS"; then
        tail -n 20 "$gr_log" >&2
        return 1
    fi
    gr_us=$(echo "$gr_line" | sed -n 's/.*: \([0-9]*\) us,.*/\1/p')
    gr_cpu=$(( $(field user_us "$gr_res") + $(field sys_us "$gr_res") ))
    echo "$gr_us $gr_cpu"
}

bench_guest() {
    say "1. guest driver: building tests/guest (guest-test.sh, a short run)"
    sh "$here/guest-test.sh" "$build" bench qd=1,bs=4096,count=100 \
        >"$out/logs/guest-test.log" 2>&1 || {
        tail -n 20 "$out/logs/guest-test.log" >&2
        return 1
    }
    rm -f "$guest_img"
    truncate -s 64M "$guest_img"

    # CPU of a boot that makes one request: subtracted from every run
    say "1. guest driver: $runs x boot with one request (CPU baseline)"
    for _ in $(seq "$runs"); do
        for t in msg pci; do
            r=$(guest_run base "$t" 1 4096 1) || return 1
            sample "g.base.$t.cpu" "${r#* }"
        done
    done
    base_msg=$(stat_of g.base.msg.cpu | cut -d' ' -f1)
    base_pci=$(stat_of g.base.pci.cpu | cut -d' ' -f1)

    say "1. guest driver: $runs rounds of qd=1 4K, qd=32 4K, qd=1 64K," \
        "msg and pci alternating"
    for i in $(seq "$runs"); do
        for cfg in "qd1 1 4096 $g_qd1_count" "qd32 32 4096 $g_qd32_count" \
                   "seq64k 1 65536 $g_seq_count"; do
            # shellcheck disable=SC2086
            set -- $cfg
            m=$(guest_run "$1" msg "$2" "$3" "$4") || return 1
            p=$(guest_run "$1" pci "$2" "$3" "$4") || return 1
            awk -v tag="$1" -v bs="$3" -v n="$4" -v m="$m" -v p="$p" \
                -v bm="$base_msg" -v bp="$base_pci" 'BEGIN {
                split(m, a, " "); split(p, b, " ")
                if (bs == 65536) {
                    vm = n * bs / a[1]; vp = n * bs / b[1]  # MB/s
                } else {
                    vm = n * 1e6 / a[1]; vp = n * 1e6 / b[1]  # IOPS
                }
                printf "g.%s.msg %.6f\n", tag, vm
                printf "g.%s.pci %.6f\n", tag, vp
                printf "g.%s.ratio %.6f\n", tag, vm / vp
                printf "g.%s.msg.cpu %.6f\n", tag, (a[2] - bm) / n
                printf "g.%s.pci.cpu %.6f\n", tag, (b[2] - bp) / n
                printf "g.%s.cpuratio %.6f\n", tag,
                       (a[2] - bm) / (b[2] - bp)
            }' >>"$samples"
        done
        say "   round $i of $runs done"
    done
}

# --- 2. the SPSC queue between two threads ---------------------------------

bench_threads() {
    say "2. SPSC queue: $runs x 4 measurements of ${thread_ms} ms"
    for _ in $(seq "$runs"); do
        r=$("$out/bench-spsc" "$thread_ms") || return 1
        for k in stream_spsc_mps stream_plain_mps rtt_spsc_ns rtt_plain_ns; do
            v=$(field "$k" "$r")
            [ -n "$v" ] || return 1
            sample "t.$k" "$v"
        done
        awk -v r="$r" 'BEGIN {
            n = split(r, f, /[ =]/)
            for (i = 2; i < n; i += 2) v[f[i]] = f[i + 1]
            printf "t.stream_ratio %.6f\n",
                   v["stream_spsc_mps"] / v["stream_plain_mps"]
            printf "t.rtt_ratio %.6f\n", v["rtt_spsc_ns"] / v["rtt_plain_ns"]
        }' >>"$samples"
    done
}

# --- 3. and 4. the two-QEMU system ----------------------------------------

bench_e2e() {
    say "3. link limit: $runs x socket ping-pong of ${ipc_ms} ms"
    for _ in $(seq "$runs"); do
        r=$("$out/bench-ipc" "$ipc_ms") || return 1
        v=$(field rtt_socket_ns "$r")
        [ -n "$v" ] || return 1
        sample e.socket_rtt_us "$(awk -v v="$v" 'BEGIN { print v / 1000 }')"
    done

    say "3./4. two-QEMU system: tests/e2e/virtio-msg-e2e.sh bench $runs" \
        "(log: $out/logs/e2e.log)"
    bash "$top/tests/e2e/virtio-msg-e2e.sh" "$build" bench "$runs" \
        >"$out/logs/e2e.out" 2>"$out/logs/e2e.log" || {
        tail -n 20 "$out/logs/e2e.log" >&2
        return 1
    }
    # guest lines: WHAT remote|local MICROSECONDS AMOUNT, remote first
    awk '
    $2 == "guest" && ($3 == "dd4k" || $3 == "dd64k" || $3 == "cfg") {
        us = $5; n = $6
        if ($3 == "dd4k") v = n * 1e6 / us          # reads/s
        else if ($3 == "dd64k") v = n * 65536 / us  # MB/s
        else v = us / n                             # us per config write
        printf "e.%s.%s %.6f\n", $3, $4, v
        if ($4 == "remote") { last = v; next }
        printf "e.%s.ratio %.6f\n", $3, last / v
    }
    $2 == "idle" { printf "i.%s %s\n", $3, $4 }
    $2 == "link" && $3 == "set_config_rtt_us" { printf "e.link_rtt %s\n", $4 }
    ' "$out/logs/e2e.out" >>"$samples"
    # the link against the socket, run by run
    sed -n 's/^e\.link_rtt //p' "$samples" >"$out/link.tmp"
    sed -n 's/^e\.socket_rtt_us //p' "$samples" >"$out/socket.tmp"
    paste -d' ' "$out/link.tmp" "$out/socket.tmp" |
        awk 'NF == 2 && $2 > 0 { printf "e.link_ratio %.6f\n", $1 / $2 }' \
        >>"$samples"
    rm -f "$out/link.tmp" "$out/socket.tmp"
    [ "$(grep -c '^e\.cfg\.ratio ' "$samples")" -ge "$runs" ] &&
        [ "$(grep -c '^e\.link_rtt ' "$samples")" -ge "$runs" ] &&
        [ "$(grep -c '^i\.driver ' "$samples")" -ge "$runs" ]
}

# --- statistics and the table ------------------------------------------------

# stat_of KEY: "median min max n" of the samples of KEY (empty if none)
stat_of() {
    sed -n "s/^$1 //p" "$samples" | sort -g | awk '
        { v[NR] = $1 }
        END {
            if (!NR) exit
            med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%s %s %s %d\n", med, v[1], v[NR], NR
        }'
}

bench_guest || fail guest
bench_threads || fail spsc
bench_e2e || fail e2e

elapsed=$(( $(date +%s) - started ))

# The rows: KEY|ROW|MEASUREMENT|UNIT|DECIMALS
rows='g.qd1.msg|1|4K reads qd=1, virtio-msg-amp-pci|reads/s|0
g.qd1.pci|1|4K reads qd=1, virtio-blk-pci|reads/s|0
g.qd1.ratio|1|4K reads qd=1, msg/pci|ratio|2
g.qd32.msg|1|4K reads qd=32, virtio-msg-amp-pci|reads/s|0
g.qd32.pci|1|4K reads qd=32, virtio-blk-pci|reads/s|0
g.qd32.ratio|1|4K reads qd=32, msg/pci|ratio|2
g.seq64k.msg|1|64K seq reads qd=1, virtio-msg-amp-pci|MB/s|1
g.seq64k.pci|1|64K seq reads qd=1, virtio-blk-pci|MB/s|1
g.seq64k.ratio|1|64K seq reads qd=1, msg/pci|ratio|2
g.qd1.msg.cpu|1|QEMU CPU/request 4K qd=1, msg|us|2
g.qd1.pci.cpu|1|QEMU CPU/request 4K qd=1, pci|us|2
g.qd1.cpuratio|1|QEMU CPU/request 4K qd=1, msg/pci|ratio|2
g.qd32.msg.cpu|1|QEMU CPU/request 4K qd=32, msg|us|2
g.qd32.pci.cpu|1|QEMU CPU/request 4K qd=32, pci|us|2
g.qd32.cpuratio|1|QEMU CPU/request 4K qd=32, msg/pci|ratio|2
g.seq64k.msg.cpu|1|QEMU CPU/request 64K qd=1, msg|us|2
g.seq64k.pci.cpu|1|QEMU CPU/request 64K qd=1, pci|us|2
g.seq64k.cpuratio|1|QEMU CPU/request 64K qd=1, msg/pci|ratio|2
t.stream_spsc_mps|2|SPSC stream, 64-byte messages|msg/s|0
t.stream_plain_mps|2|plain ring stream (limit)|msg/s|0
t.stream_ratio|2|SPSC/plain stream|ratio|2
t.rtt_spsc_ns|2|SPSC ping-pong round trip|ns|0
t.rtt_plain_ns|2|cache-line flag ping-pong (limit)|ns|0
t.rtt_ratio|2|SPSC/flag round trip|ratio|2
e.link_rtt|3|link request round trip (SET_CONFIG)|us|1
e.socket_rtt_us|3|socket ping-pong, 2 processes (limit)|us|1
e.link_ratio|3|link round trip/socket ping-pong|ratio|2
e.cfg.remote|3|guest config write, proxied disk|us|0
e.cfg.local|3|guest config write, local disk|us|0
e.cfg.ratio|3|guest config write, proxied/local|ratio|2
e.dd4k.remote|3|Linux O_DIRECT 4K reads, proxied disk|reads/s|0
e.dd4k.local|3|Linux O_DIRECT 4K reads, local disk|reads/s|0
e.dd4k.ratio|3|Linux O_DIRECT 4K, proxied/local|ratio|2
e.dd64k.remote|3|Linux O_DIRECT 64K reads, proxied disk|MB/s|1
e.dd64k.local|3|Linux O_DIRECT 64K reads, local disk|MB/s|1
e.dd64k.ratio|3|Linux O_DIRECT 64K, proxied/local|ratio|2
i.driver|4|idle CPU, driver-side QEMU (guest)|% core|2
i.device|4|idle CPU, device-side QEMU|% core|2'

csv=$out/bench.csv
echo "row,measurement,unit,median,min,max,runs" >"$csv"
table=$out/bench.txt
{
    echo "virtio-msg benchmark: $(uname -m), $(nproc) CPUs," \
        "load average at the end $(cut -d' ' -f1-3 /proc/loadavg)," \
        "$runs runs per figure, ${elapsed}s"
    echo "QEMU: $("$qemu" --version | head -n 1)"
    echo
    printf '%-3s  %-42s  %-8s  %12s  %12s  %12s  %4s\n' \
        row measurement unit median min max runs
    printf '%-3s  %-42s  %-8s  %12s  %12s  %12s  %4s\n' \
        --- ------------------------------------------ -------- \
        ------------ ------------ ------------ ----
} >"$table"
echo "$rows" | while IFS='|' read -r key row what unit dec; do
    s=$(stat_of "$key")
    if [ -z "$s" ]; then
        printf '%-3s  %-42s  %-8s  %12s  %12s  %12s  %4s\n' \
            "$row" "$what" "$unit" n/a n/a n/a 0 >>"$table"
        echo "$row,\"$what\",$unit,,,,0" >>"$csv"
        continue
    fi
    # shellcheck disable=SC2086
    set -- $s
    printf "%-3s  %-42s  %-8s  %12.${dec}f  %12.${dec}f  %12.${dec}f  %4s\n" \
        "$row" "$what" "$unit" "$1" "$2" "$3" "$4" >>"$table"
    printf "%s,\"%s\",%s,%.${dec}f,%.${dec}f,%.${dec}f,%s\n" \
        "$row" "$what" "$unit" "$1" "$2" "$3" "$4" >>"$csv"
done
cat >>"$table" <<EOF

Legend (method: tests/bench/README.rst):
 1  bare-metal guest driver (tests/guest, TCG cortex-a57) reading a 64 MiB
    raw image over virtio-msg-amp-pci and over virtio-blk-pci, one QEMU boot
    per run, msg and pci runs alternating; rates are timed by the guest
    ($g_qd1_count / $g_qd32_count / $g_seq_count requests).  CPU/request:
    user+system time of the QEMU process (all threads, wait4 rusage) minus
    that of a one-request boot, divided by the requests.  Ratios are of
    each msg run and the pci run right after it.
 2  two host threads, 64-byte messages, ${thread_ms} ms each: the SPSC queue
    of hw/virtio/virtio-msg-spsc.c (64 slots) against a plain ring (same
    layout, no index checks) and a cache-line flag; busy polling,
    sched_yield() every 64 polls.
 3  the two-QEMU system (device side -M x-virtio-msg, Debian's arm64 Linux
    on the driver side behind virtio-msg-proxy-driver-pci), one boot.
    Config write: busybox 'echo > /sys/block/vdX/cache_type' flipping
    the write cache, each one SET_CONFIG and one GET_CONFIG round trip
    through the proxy (none on the local virtio-blk-pci disk of the same
    guest).  Link round trip: SET_CONFIG request to response in the
    driver side's trace (median per run).  Limit: 1-byte ping-pong over
    a Unix socket between two processes (the link's doorbells),
    ${ipc_ms} ms.  dd: busybox dd iflag=direct from both disks,
    alternating.
 4  CPU time (/proc/PID/stat utime+stime) of each QEMU of that system over
    ${E2E_BENCH_IDLE:-10} s windows while its guest sleeps, in percent of one core.
EOF
cat "$table"
echo
echo "bench: table in $table, CSV in $csv, logs in $out/logs"
if [ -n "$failed" ]; then
    say "could not run:$failed"
    exit 1
fi
exit 0
