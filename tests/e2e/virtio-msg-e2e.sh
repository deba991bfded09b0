#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end test and demo of the two-QEMU virtio-msg system.
#
# Usage: virtio-msg-e2e.sh BUILD_DIR test pci|mmio|vhost...
#        virtio-msg-e2e.sh BUILD_DIR demo [pci|mmio]
#        virtio-msg-e2e.sh BUILD_DIR bench [RUNS]
#
# The device side (-M x-virtio-msg) serves virtio-blk (a raw image of
# random bytes), virtio-net (user networking) and virtio-rng over
# virtio-msg-bus-linux-user; the driver side (-M virt, TCG) runs Debian's
# stock arm64 kernel with a busybox initramfs and reaches them through
# virtio-msg-proxy-driver-pci (pci) or virtio-msg-proxy-driver behind
# virtio-mmio (mmio); "vhost" is pci with the disk served by a vhost-user-blk
# export of qemu-storage-daemon on the device side.  "test" checks from the guest that the disk's sha256
# equals the host's, that DHCP works and a file served on the host's
# loopback arrives intact, and that 64 KiB come from /dev/hwrng; it then
# kills the device side during guest disk I/O and checks that the driver
# side keeps running and answering QMP.  "demo" leaves the guest console
# on the terminal.  Before that kill it also stops (SIGSTOP) the device
# side and resets the guest, and checks that requests time out without
# hanging the driver side.  "bench" (for scripts/fork/bench.sh, see
# tests/bench/README.rst) gives the driver side a local virtio-blk-pci disk
# too, has the guest time config writes and O_DIRECT reads on both disks,
# takes the round trips of the config writes' requests from the driver
# side's trace of the link, then measures the CPU time both QEMUs use while
# the guest is idle; it prints "e2e-bench: ..." lines on stdout.  Guest packages (linux-image-arm64, busybox-static) are
# downloaded by package name and cached in BUILD_DIR/e2e.  Nothing is left
# behind, pass or fail.

set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
action=$2
shift 2

# E2E_QEMU: the QEMU binary of both sides (default: the main build's)
qemu=${E2E_QEMU:-$build/obj/qemu-system-aarch64}
# E2E_QSD: the qemu-storage-daemon of the "vhost" case
qsd=${E2E_QSD:-$build/obj/storage-daemon/qemu-storage-daemon}
# E2E_QEMU_ARGS: extra options for both QEMUs (e.g. -trace 'virtio_msg*');
# E2E_KEEP=1 keeps the work directory (logs) for inspection
extra_args=(${E2E_QEMU_ARGS:-})
cache=$build/e2e
python=/usr/bin/python3
mem_size=512M
# E2E_BOOT_TIMEOUT: seconds the guest may take for its checks
boot_timeout=${E2E_BOOT_TIMEOUT:-120}

. "$repo/scripts/fork/apt-private.sh"

log() { echo "e2e: $*" >&2; }
die() { log "FAIL: $*"; exit 1; }

# --- guest software -----------------------------------------------------

arm64_apt()
{
    apt_private "$cache/apt" "$@" -o APT::Architecture=arm64 \
        -o APT::Architectures=arm64
}

fetch_guest()
{
    local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    local mirror security kpkg

    mkdir -p "$cache/debs"
    if [ -f "$cache/guest/ready" ]; then
        return
    fi
    mirror=$(apt_private_mirror)
    security=$(apt_private_security_mirror)
    apt_private_init "$cache/apt" \
        "deb [arch=arm64 signed-by=$keyring] $mirror bookworm main
deb [arch=arm64 signed-by=$keyring] $mirror bookworm-updates main${security:+
deb [arch=arm64 signed-by=$keyring] $security bookworm-security main}"
    arm64_apt apt-get update >"$cache/apt/update.log" 2>&1 ||
        die "apt-get update failed, see $cache/apt/update.log"
    touch "$cache/apt/updated"
    kpkg=$(arm64_apt apt-cache depends linux-image-arm64 |
           sed -n 's/^ *Depends: \(linux-image-[0-9].*\)/\1/p' | head -n1)
    [ -n "$kpkg" ] || die "cannot resolve linux-image-arm64"
    log "downloading $kpkg and busybox-static (arm64)"
    (cd "$cache/debs" && arm64_apt apt-get download "$kpkg" busybox-static \
        >/dev/null) || die "download failed"
    rm -rf "$cache/guest"
    mkdir -p "$cache/guest"
    dpkg-deb -x "$cache/debs/${kpkg}"_*.deb "$cache/guest/kernel"
    dpkg-deb -x "$cache/debs"/busybox-static_*.deb "$cache/guest/busybox"
    echo "$kpkg" > "$cache/guest/ready"
}

# Print the modules (paths under lib/modules/VER) needed for @names, in
# load order, following the depends= of each module's .modinfo.
modules_in_order()
{
    local moddir=$1 name path deps
    shift
    for name in "$@"; do
        path=$(cd "$moddir" && find kernel \( -name "$name.ko" -o \
               -name "$(echo "$name" | tr _ -).ko" \) | head -n1)
        [ -n "$path" ] || continue
        deps=$(tr '\0' '\n' < "$moddir/$path" | sed -n 's/^depends=//p' |
               tr , ' ')
        if [ -n "$deps" ]; then
            # shellcheck disable=SC2086
            modules_in_order "$moddir" $deps
        fi
        echo "$path"
    done
}

build_initramfs()
{
    local kver moddir root

    kver=$(ls "$cache/guest/kernel/lib/modules")
    moddir=$cache/guest/kernel/lib/modules/$kver
    initrd=$cache/initramfs-$kver.cpio.gz
    kernel=$cache/guest/kernel/boot/vmlinuz-$kver
    if [ -f "$initrd" ] && [ "$initrd" -nt "$repo/tests/e2e/guest-init.sh" ] &&
       [ "$initrd" -nt "$repo/tests/e2e/udhcpc.sh" ]; then
        return
    fi
    root=$(mktemp -d "$cache/root.XXXXXX")
    mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/tmp" \
             "$root/lib/modules"
    cp "$cache/guest/busybox/bin/busybox" "$root/bin/busybox"
    cp "$repo/tests/e2e/guest-init.sh" "$root/init"
    cp "$repo/tests/e2e/udhcpc.sh" "$root/udhcpc.sh"
    chmod 755 "$root/init" "$root/udhcpc.sh"
    modules_in_order "$moddir" virtio_pci virtio_mmio virtio_blk virtio_net \
        virtio_rng | awk '!seen[$0]++' > "$root/modules.list.tmp"
    : > "$root/modules.list"
    while read -r m; do
        cp "$moddir/$m" "$root/lib/modules/${m##*/}"
        echo "${m##*/}" >> "$root/modules.list"
    done < "$root/modules.list.tmp"
    rm "$root/modules.list.tmp"
    (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$initrd"
    rm -rf "$root"
}

# --- the two QEMUs ------------------------------------------------------

work=
pids=()

cleanup()
{
    local p
    for p in "${pids[@]}"; do
        kill -9 "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    pids=()
    if [ -n "$work" ]; then
        rm -f "/dev/shm/$(basename "$work")"
        if [ -n "${E2E_KEEP:-}" ]; then
            log "logs kept in $work"
        else
            rm -rf "$work"
        fi
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port()
{
    "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# qmp SOCKET [COMMAND]: run COMMAND (default query-status) and print the
# run state the QEMU behind SOCKET then reports
qmp_status()
{
    "$python" - "$1" "${2:-}" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect(sys.argv[1])
f = s.makefile("rw")
f.readline()
for cmd in ("qmp_capabilities", sys.argv[2], "query-status"):
    if not cmd:
        continue
    f.write(json.dumps({"execute": cmd}) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            break
print(r["return"]["status"])
PY
}

wait_for()
{
    local file=$1 pattern=$2 timeout=$3 pid=${4:-}
    local end=$((SECONDS + timeout))

    while ! grep -q "$pattern" "$file" 2>/dev/null; do
        if [ $SECONDS -ge $end ]; then
            return 1
        fi
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        sleep 0.5
    done
}

# Prepare the work directory, the files and the command lines of both
# sides (arrays "device" and "driver") for proxy type $1 and guest mode $2.
# $3 = reconnect: the driver side may start first.
prepare_pair()
{
    local kind=$1 gmode=$2 reconnect=${3:-} port

    work=$(mktemp -d /tmp/vmsg-e2e.XXXXXX)
    shm=/dev/shm/$(basename "$work")
    mkdir "$work/www"
    head -c "${disk_size:-4M}" /dev/urandom > "$work/disk.img"
    head -c 1M /dev/urandom > "$work/www/file"
    disk_sha=$(sha256sum < "$work/disk.img" | cut -d' ' -f1)
    file_sha=$(sha256sum < "$work/www/file" | cut -d' ' -f1)
    port=$(free_port)
    "$python" -m http.server --bind 127.0.0.1 --directory "$work/www" \
        "$port" >"$work/http.log" 2>&1 &
    pids+=($!)

    if [ "$kind" = vhost ]; then
        # the daemon serves the disk; the device side's RAM is shared
        log "storage daemon: $qsd ... $work/vu.sock"
        "$qsd" --blockdev "driver=file,node-name=f0,filename=$work/disk.img" \
            --export "type=vhost-user-blk,id=e0,node-name=f0,addr.type=unix,addr.path=$work/vu.sock,writable=on" \
            >"$work/qsd.log" 2>&1 &
        pids+=($!)
        wait_for_socket "$work/vu.sock" || die "qemu-storage-daemon did not start"
        disk_dev=(-chardev "socket,id=vu0,path=$work/vu.sock"
                  -device vhost-user-blk,chardev=vu0)
    else
        disk_dev=(-drive "if=none,id=disk0,file=$work/disk.img,format=raw"
                  -device virtio-blk-device,drive=disk0)
    fi
    device=("$qemu" -M x-virtio-msg -m "$mem_size"
        -object "memory-backend-file,id=mem,size=$mem_size,mem-path=$shm,share=on"
        -machine memory-backend=mem
        -chardev "socket,id=chr0,path=$work/vmsg.sock,server=on,wait=off"
        -device virtio-msg-bus-linux-user,name=linux-user,chardev=chr0
        "${disk_dev[@]}"
        -netdev user,id=net0 -device virtio-net-device,netdev=net0
        -device virtio-rng-device
        -display none -monitor none -serial none
        -qmp "unix:$work/device.qmp,server=on,wait=off" "${extra_args[@]}")

    driver=("$qemu" -M virt -cpu cortex-a72 -m "$mem_size"
        -object "memory-backend-file,id=mem,size=$mem_size,mem-path=$shm,share=on"
        -machine memory-backend=mem
        -chardev "socket,id=chr0,path=$work/vmsg.sock${reconnect:+,reconnect-ms=500}"
        -device virtio-msg-bus-linux-user,name=linux-user,chardev=chr0)
    if [ "$kind" != mmio ]; then
        driver+=(-device virtio-msg-proxy-driver-pci,msg-bus=linux-user,dev-num=0
                 -device virtio-msg-proxy-driver-pci,msg-bus=linux-user,dev-num=1
                 -device virtio-msg-proxy-driver-pci,msg-bus=linux-user,dev-num=2)
    else
        driver+=(-global virtio-mmio.force-legacy=false
                 -device virtio-msg-proxy-driver,bus=virtio-mmio-bus.0,msg-bus=linux-user,dev-num=0
                 -device virtio-msg-proxy-driver,bus=virtio-mmio-bus.1,msg-bus=linux-user,dev-num=1
                 -device virtio-msg-proxy-driver,bus=virtio-mmio-bus.2,msg-bus=linux-user,dev-num=2)
    fi
    driver+=(-kernel "$kernel" -initrd "$initrd"
        -append "console=ttyAMA0 rdinit=/init quiet panic=0 vmsg.mode=$gmode vmsg.url=http://10.0.2.2:$port/file"
        -nic none "${extra_args[@]}")
}

start_device()
{
    log "device side: ${device[*]}"
    rm -f "$work/device.qmp"
    "${device[@]}" >>"$work/device.log" 2>&1 &
    device_pid=$!
    pids+=($device_pid)
}

# start_driver N: the N-th driver side, console in console-N.log
start_driver()
{
    console=$work/console-$1.log
    log "driver side: ${driver[*]}"
    rm -f "$work/driver.qmp"
    "${driver[@]}" -display none -serial "file:$console" -monitor none \
        -qmp "unix:$work/driver.qmp,server=on,wait=off" \
        >>"$work/driver.log" 2>&1 &
    driver_pid=$!
    pids+=($driver_pid)
}

wait_for_socket()
{
    local i
    for i in $(seq 100); do
        [ -S "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

# The guest of the current driver side must finish its checks.
wait_guest()
{
    if ! wait_for "$console" "VMSG-E2E io-loop" "$boot_timeout" \
            "$driver_pid"; then
        tail -n 30 "$console" "$work/driver.log" "$work/device.log" >&2 ||
            true
        die "the guest did not finish its checks"
    fi
}

check_line()
{
    local what=$1 expect=$2 got

    got=$(sed -n "s/^.*VMSG-E2E $what \([^ ]*\).*\$/\1/p" "$console" |
          tr -d '\r' | head -n1)
    if [ "$got" != "$expect" ]; then
        die "$what: expected $expect, got '${got:-nothing}'"
    fi
    log "$what: $got"
}

# kill_side PID NAME OTHER-QMP: kill one side; the other must keep running
# and answering QMP.
kill_side()
{
    local pid=$1 name=$2 qmp=$3 status

    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
    sleep 2
    status=$(qmp_status "$qmp") || die "$name killed: the other side does not answer QMP"
    [ "$status" = running ] || die "$name killed: the other side is $status"
    log "$name killed: the other side is still $status and answers QMP"
}

run_test()
{
    local kind=$1 start

    log "=== $kind proxies ==="
    start=$SECONDS
    if [ "$kind" != mmio ]; then
        # the canonical order: device side first
        prepare_pair "$kind" io-loop
        start_device
        wait_for_socket "$work/vmsg.sock" || die "device side did not start"
        start_driver 1
    else
        # the other order: the driver side waits for the device side
        prepare_pair "$kind" io-loop reconnect
        start_driver 1
        sleep 2
        start_device
    fi
    wait_guest
    check_line disk "$disk_sha"
    check_line net "$file_sha"
    check_line rng 65536
    grep -q "VMSG-E2E rng 65536 virtio_rng" "$console" ||
        die "rng: /dev/hwrng is not virtio_rng"

    # A stopped device side answers nothing: requests must time out.  The
    # guest's reset and reboot make requests (status, then configuration
    # reads when its drivers probe again).
    log "stopping the device side, then resetting the driver side's guest"
    kill -STOP "$device_pid"
    status=$(qmp_status "$work/driver.qmp" system_reset) ||
        die "device side stopped: the driver side does not answer QMP"
    wait_for "$work/driver.log" "did not answer" 60 "$driver_pid" ||
        die "no request timed out while the device side was stopped"
    status=$(qmp_status "$work/driver.qmp") ||
        die "device side stopped: the driver side does not answer QMP"
    [ "$status" = running ] || die "device side stopped: driver side $status"
    log "device side stopped: requests timed out, the devices were failed," \
        "the driver side is $status and answers QMP"
    kill -CONT "$device_pid"

    log "killing the driver side; a new one must get working devices"
    kill_side "$driver_pid" "driver side" "$work/device.qmp"
    start_driver 2
    wait_guest
    check_line disk "$disk_sha"

    log "killing the device side during guest disk I/O"
    kill_side "$device_pid" "device side" "$work/driver.qmp"
    cleanup
    work=
    log "$kind: PASS ($((SECONDS - start)) s)"
}

run_demo()
{
    local kind=${1:-pci}

    prepare_pair "$kind" demo
    start_device
    wait_for_socket "$work/vmsg.sock" || die "device side did not start"
    cat <<MSG

Two QEMUs are running the virtio-msg system (proxies: $kind).

Device side (no CPUs, serves the devices):
  ${device[*]}

Driver side (the guest below; its console is this terminal):
  ${driver[*]} -nographic

The guest checks its disk, network and RNG, then gives you a shell.
On the host: disk image sha256 $disk_sha
             served file sha256 $file_sha
Stop with Ctrl-A then X (or 'poweroff -f' in the guest).

MSG
    "${driver[@]}" -nographic || true
}

# qmp_trace SOCKET on|off: switch the link trace events of the QEMU there
qmp_trace()
{
    "$python" - "$1" "$2" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect(sys.argv[1])
f = s.makefile("rw")
f.readline()
for cmd in ({"execute": "qmp_capabilities"},
            {"execute": "trace-event-set-state",
             "arguments": {"name": "virtio_msg_bus_*",
                           "enable": sys.argv[2] == "on"}}):
    f.write(json.dumps(cmd) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            break
    if "error" in r:
        sys.exit(r["error"]["desc"])
PY
}

# The round trips (microseconds) of the last N SET_CONFIG requests in the
# trace of the driver side (log backend, -msg timestamp=on): from the
# request's "out" line to the "in" line of the response with its token
set_config_rtts()
{
    awk -v n="$2" '
    match($0, /@[0-9]+\.[0-9]+:/) {
        t = substr($0, RSTART + 1, RLENGTH - 2)
        split(t, p, ".")
        us = (p[1] % 100000) * 1000000 + p[2]
    }
    / out SET_CONFIG type 0x0 / { start[$(NF - 2)] = us }
    / in SET_CONFIG type 0x1 / {
        tok = $(NF - 2)
        if (tok in start) {
            rtt[++count] = us - start[tok]
            delete start[tok]
        }
    }
    END { for (i = count - n + 1; i <= count; i++) if (i > 0) print rtt[i] }
    ' "$1"
}

# CPU time (clock ticks, user + system) a process has used so far
cpu_ticks()
{
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# bench [RUNS]: see the header; RUNS (default 5) of each measurement
run_bench()
{
    local runs=${1:-5} hz t0 d0 v0 d1 v1 t1 r
    local dd4k=${E2E_BENCH_DD4K:-2048} dd64k=${E2E_BENCH_DD64K:-256}
    local cfg=${E2E_BENCH_CFG:-400} idle_s=${E2E_BENCH_IDLE:-10}

    hz=$(getconf CLK_TCK)
    disk_size=64M prepare_pair pci bench
    # the proxied disk and a local one, told apart by their serial
    device=("${device[@]/%drive=disk0/drive=disk0,serial=remote}")
    cp "$work/disk.img" "$work/local.img"
    driver=("${driver[@]/vmsg.mode=bench/vmsg.mode=bench vmsg.runs=$runs vmsg.dd4k=$dd4k vmsg.dd64k=$dd64k vmsg.cfg=$cfg}")
    # shellcheck disable=SC2054
    driver+=(-drive "if=none,id=local0,file=$work/local.img,format=raw"
             -device virtio-blk-pci,drive=local0,serial=local
             -msg timestamp=on -trace virtio_msg_bus_send
             -trace virtio_msg_bus_receive)
    start_device
    wait_for_socket "$work/vmsg.sock" || die "device side did not start"
    start_driver 1
    # trace the link during the config writes only
    if wait_for "$console" "VMSG-BENCH cfg-done" \
            $((boot_timeout + runs * 60)) "$driver_pid"; then
        qmp_trace "$work/driver.qmp" off ||
            log "could not stop tracing the link"
        set_config_rtts "$work/driver.log" $((runs * cfg)) >"$work/rtts"
        # the median round trip of each run of the guest
        for r in $(seq 0 $((runs - 1))); do
            sed -n "$((r * cfg + 1)),$(((r + 1) * cfg))p" "$work/rtts" |
                sort -n | awk '{ v[NR] = $1 } END {
                    if (NR) print "e2e-bench: link set_config_rtt_us",
                        NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, NR
                }'
        done
    fi
    if ! wait_for "$console" "VMSG-BENCH \(done\|failed\)" \
            $((boot_timeout + runs * 120)) "$driver_pid" ||
       grep -q "VMSG-BENCH failed" "$console"; then
        tail -n 30 "$console" "$work/driver.log" "$work/device.log" >&2 ||
            true
        die "the guest did not finish its measurements"
    fi
    tr -d '\r' <"$console" | sed -n 's/^VMSG-BENCH /e2e-bench: guest /p' |
        grep -v ' done$'
    log "guest idle: CPU time of both QEMUs over $runs x ${idle_s}s"
    for _ in $(seq "$runs"); do
        t0=$(date +%s%N)
        d0=$(cpu_ticks "$driver_pid") v0=$(cpu_ticks "$device_pid")
        sleep "$idle_s"
        d1=$(cpu_ticks "$driver_pid") v1=$(cpu_ticks "$device_pid")
        t1=$(date +%s%N)
        # percent of one core: ticks / hz / seconds * 100
        echo "e2e-bench: idle driver" \
            "$(awk -v t=$((d1 - d0)) -v hz="$hz" -v ns=$((t1 - t0)) \
               'BEGIN { printf "%.2f", t / hz / (ns / 1e9) * 100 }')"
        echo "e2e-bench: idle device" \
            "$(awk -v t=$((v1 - v0)) -v hz="$hz" -v ns=$((t1 - t0)) \
               'BEGIN { printf "%.2f", t / hz / (ns / 1e9) * 100 }')"
    done
    cleanup
    work=
}

fetch_guest
build_initramfs
case "$action" in
test)
    for kind in "$@"; do
        run_test "$kind"
    done
    echo "e2e: $# test cases ran: $# passed, 0 failed ($*)"
    ;;
demo)
    run_demo "$@"
    ;;
bench)
    run_bench "$@"
    ;;
*)
    die "unknown action $action"
    ;;
esac
