#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (c) 2026 The virtio-msg QEMU fork authors
#
# Build the bare-metal guest test program (tests/guest) and run it.
#
# Usage: guest-test.sh BUILD_DIR [check|bench] [GUEST-OPTION...]
#
#   check (default): write/read-back test of a virtio-blk, behind
#       virtio-msg-amp-pci, as virtio-blk-pci, and behind a relayed
#       virtio-msg-amp-pci whose device is in a second, device-side QEMU
#       (-M x-virtio-msg); the guest must print its PASS line and the disk
#       image must hold the pattern afterwards.
#   bench: read benchmark over both transports; GUEST-OPTIONs (qd=N
#       bs=BYTES count=N) replace the default set of runs.
#   demo: the AMP system of two processes on the terminal: the guest's
#       virtio-msg driver on a relayed virtio-msg-amp-pci, its disk served
#       by the device-side QEMU; every message is printed.
#
# Needs aarch64-linux-gnu-gcc (Debian package gcc-aarch64-linux-gnu; set
# CROSS_COMPILE for another prefix) and BUILD_DIR/obj/qemu-system-aarch64.
# Everything it writes goes to BUILD_DIR/guest/.  Exits non-zero on failure.

set -u

build=${1:?usage: guest-test.sh BUILD_DIR [check|bench] [OPTION...]}
mode=${2:-check}
shift
[ $# -ge 1 ] && shift
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../tests/guest" && pwd)
out=$build/guest
qemu=$build/obj/qemu-system-aarch64
cross=${CROSS_COMPILE:-aarch64-linux-gnu-}
timeout_s=${GUEST_TEST_TIMEOUT:-120}

case $mode in
check|bench|demo) ;;
*) echo "guest-test: unknown mode '$mode' (check, bench or demo)" >&2
   exit 2 ;;
esac

if ! command -v "${cross}gcc" >/dev/null 2>&1; then
    echo "guest-test: ${cross}gcc not found;" \
         "install gcc-aarch64-linux-gnu" >&2
    exit 1
fi
if [ ! -x "$qemu" ]; then
    echo "guest-test: $qemu not built" >&2
    exit 1
fi

# Build
mkdir -p "$out"
cflags="-std=gnu11 -O2 -g -ffreestanding -nostdlib -fno-builtin
        -fno-stack-protector -fno-pic -fno-pie -mgeneral-regs-only
        -fno-tree-loop-distribute-patterns -Wall -Wextra -Werror
        -Wno-unused-parameter -Wmissing-prototypes"
objs=
for f in "$src"/start.S "$src"/*.c; do
    o=$out/$(basename "${f%.*}").o
    # shellcheck disable=SC2086
    "${cross}gcc" $cflags -c "$f" -o "$o" || {
        echo "guest-test: compiling $f failed" >&2
        exit 1
    }
    objs="$objs $o"
done
# shellcheck disable=SC2086
"${cross}gcc" -nostdlib -static -no-pie -Wl,--build-id=none \
    -Wl,--no-warn-rwx-segments -T "$src/guest.ld" -o "$out/guest.elf" \
    $objs -lgcc || {
    echo "guest-test: linking failed" >&2
    exit 1
}

# run_guest LOG IMAGE TRANSPORT-OPTIONS GUEST-ARGS: one boot of the program
# (IMAGE empty: the disk is not in this QEMU)
run_guest()
{
    rg_log=$1 rg_img=$2 rg_devs=$3 rg_args=$4
    rg_drive=
    [ -n "$rg_img" ] && rg_drive="-drive if=none,id=d0,file=$rg_img,format=raw"
    # shellcheck disable=SC2086
    timeout "$timeout_s" "$qemu" -M virt -cpu cortex-a57 -m 256M \
        -nographic -no-reboot -nic none -kernel "$out/guest.elf" \
        -append "$rg_args" $rg_drive \
        $rg_devs </dev/null >"$rg_log" 2>&1
    rg_rc=$?
    tr -d '\r' <"$rg_log" >"$rg_log.txt" && mv "$rg_log.txt" "$rg_log"
    if [ $rg_rc = 124 ]; then
        echo "(QEMU killed after ${timeout_s}s)" >>"$rg_log"
    fi
    return $rg_rc
}

msg_devs="-device virtio-msg-amp-pci,id=amp0
          -device virtio-blk-device,drive=d0,bus=amp0.fifo0"
pci_devs="-device virtio-blk-pci,drive=d0"

# Relay: guest RAM in a file both QEMUs map; the guest's QEMU listens
relay_ram=$out/relay-ram
relay_sock=$out/relay.sock
relay_devs="-object memory-backend-file,id=mem,size=256M,mem-path=$relay_ram,share=on
            -machine memory-backend=mem
            -chardev socket,id=c0,path=$relay_sock,server=on,wait=off
            -device virtio-msg-bus-linux-user,name=link0,chardev=c0
            -device virtio-msg-amp-pci,id=amp0,relay=link0"

# start_device_side IMAGE LOG: the -M x-virtio-msg QEMU serving the disk,
# connecting (and reconnecting) to the guest's QEMU; sets device_pid
start_device_side()
{
    rm -f "$relay_sock" "$relay_ram"
    "$qemu" -M x-virtio-msg -m 256M -display none -nodefaults \
        -object memory-backend-file,id=mem,size=256M,mem-path="$relay_ram",share=on \
        -machine memory-backend=mem \
        -chardev socket,id=c0,path="$relay_sock",reconnect-ms=100 \
        -device virtio-msg-bus-linux-user,name=lu,chardev=c0 \
        -drive if=none,id=d0,file="$1",format=raw \
        -device virtio-blk-device,drive=d0,bus=lu </dev/null >"$2" 2>&1 &
    device_pid=$!
}

stop_device_side()
{
    kill "$device_pid" 2>/dev/null
    wait "$device_pid" 2>/dev/null
    rm -f "$relay_sock" "$relay_ram"
}

# expected TAG FIRST COUNT: the records the guest writes to those sectors
expected()
{
    awk -v tag="$1" -v first="$2" -v n="$3" 'BEGIN {
        for (s = first; s < first + n; s++)
            for (r = 0; r < 32; r++)
                printf "%s%06d.%02d.vblk\n", tag, s, r
    }'
}

# image_holds IMG TAG FIRST COUNT
image_holds()
{
    expected "$2" "$3" "$4" >"$out/expected.bin"
    dd if="$1" bs=512 skip="$3" count="$4" 2>/dev/null >"$out/actual.bin"
    cmp -s "$out/expected.bin" "$out/actual.bin"
}

fail=0

if [ "$mode" = demo ]; then
    img=$out/demo.img
    rm -f "$img"
    truncate -s 8M "$img"
    relay_lines=$(printf '%s' "$relay_devs" | tr -s ' \n' '  ' |
                  sed 's/ -/\n-/g' | sed 's/^ *//; s/^/==     /')
    cat <<EOF
== virtio-msg AMP demo: a guest's own virtio-msg driver, devices in another
== process.  The guest (tests/guest, bare metal) drives virtio-msg-amp-pci;
== FIFO 0 is relayed over a virtio-msg-bus-linux-user link to the
== device-side QEMU, which serves the disk $img.
==
== Device side:
==   $qemu -M x-virtio-msg -m 256M -display none -nodefaults
==     -object memory-backend-file,id=mem,size=256M,mem-path=$relay_ram,share=on
==     -machine memory-backend=mem
==     -chardev socket,id=c0,path=$relay_sock,reconnect-ms=100
==     -device virtio-msg-bus-linux-user,name=lu,chardev=c0
==     -drive if=none,id=d0,file=$img,format=raw
==     -device virtio-blk-device,drive=d0,bus=lu
== Guest (driver side):
==   $qemu -M virt -cpu cortex-a57 -m 256M -nographic -nic none
==     -kernel $out/guest.elf
==     -append "transport=msg test=check wait=10000 verbose=1"
$relay_lines
==
EOF
    start_device_side "$img" "$out/demo-device.log"
    run_guest "$out/demo.log" "" "$relay_devs" \
        "transport=msg test=check wait=10000 verbose=1"
    rc=$?
    stop_device_side
    cat "$out/demo.log"
    echo "== the disk image of the device side now starts with:"
    dd if="$img" bs=64 count=2 2>/dev/null
    grep -q "^guest-test: PASS" "$out/demo.log" && [ $rc = 0 ] || fail=1
elif [ "$mode" = check ]; then
    img_sectors=16384                   # 8 MiB
    for t in msg pci relay; do
        transport=$t extra=
        case $t in
        msg) devs=$msg_devs name=virtio-msg-amp-pci tag=M ;;
        pci) devs=$pci_devs name=virtio-blk-pci tag=P ;;
        relay) devs=$relay_devs name="amp-pci relay" tag=M
               transport=msg extra=" wait=10000" ;;
        esac
        img=$out/check-$t.img
        log=$out/check-$t.log
        guest_img=$img
        rm -f "$img"
        truncate -s $((img_sectors * 512)) "$img"
        start=$(date +%s)
        if [ $t = relay ]; then
            start_device_side "$img" "$out/check-relay-device.log"
            guest_img=
        fi
        run_guest "$log" "$guest_img" "$devs" \
            "transport=$transport test=check$extra"
        rc=$?
        [ $t = relay ] && stop_device_side
        secs=$(( $(date +%s) - start ))
        guest=FAIL
        grep -q "^guest-test: PASS transport=$transport test=check" "$log" &&
            guest=PASS
        disk=bad
        image_holds "$img" "$tag" 0 256 &&
            image_holds "$img" "$tag" $((img_sectors - 16)) 16 && disk=ok
        if [ $guest = PASS ] && [ $disk = ok ] && [ $rc = 0 ]; then
            result=PASS
        else
            result=FAIL
            fail=1
        fi
        printf 'guest-test: %-20s check %s (guest %s, image pattern %s,' \
            "$name" $result $guest $disk
        printf ' qemu exit %s, %ss)\n' $rc $secs
        if [ $result = FAIL ]; then
            sed 's/^/    /' "$log" | tail -n 25
            echo "    log: $log"
        fi
    done
else
    img=$out/bench.img
    rm -f "$img"
    truncate -s 64M "$img"
    if [ $# -gt 0 ]; then
        runs="$*"
    else
        runs="qd=1,bs=4096,count=20000 qd=16,bs=4096,count=50000
              qd=4,bs=65536,count=5000"
    fi
    for run in $runs; do
        opts=$(echo "$run" | tr ',' ' ')
        for t in msg pci; do
            case $t in
            msg) devs=$msg_devs ;;
            pci) devs=$pci_devs ;;
            esac
            log=$out/bench-$t-$(echo "$run" | tr ',=' '_-').log
            run_guest "$log" "$img" "$devs" "transport=$t test=bench $opts"
            if grep -q "^guest-test: PASS" "$log"; then
                grep '^bench:' "$log" | sed 's/^/guest-test: /'
            else
                echo "guest-test: bench transport=$t $opts FAILED"
                sed 's/^/    /' "$log" | tail -n 25
                fail=1
            fi
        done
    done
fi

exit $fail
