#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# /init of the end-to-end test's initramfs (busybox).  It loads the virtio
# modules, then checks the three virtio devices served over virtio-msg:
#   disk:  sha256 of /dev/vda
#   net:   DHCP, then a file fetched over TCP from vmsg.url, its sha256
#   rng:   64 KiB read from /dev/hwrng
# and prints "VMSG-E2E <what> <value>" lines for the host to compare.
# Kernel parameters: vmsg.url=URL, vmsg.mode=test|demo|io-loop|bench.
# vmsg.mode=bench skips the checks and measures instead (run_bench below;
# vmsg.runs=, vmsg.dd4k=, vmsg.dd64k=, vmsg.cfg= set its sizes).

/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /tmp

url=
mode=test
runs=5 dd4k=2048 dd64k=256 cfg=400
for arg in $(cat /proc/cmdline); do
    case "$arg" in
    vmsg.url=*) url=${arg#vmsg.url=} ;;
    vmsg.mode=*) mode=${arg#vmsg.mode=} ;;
    vmsg.runs=*) runs=${arg#vmsg.runs=} ;;
    vmsg.dd4k=*) dd4k=${arg#vmsg.dd4k=} ;;
    vmsg.dd64k=*) dd64k=${arg#vmsg.dd64k=} ;;
    vmsg.cfg=*) cfg=${arg#vmsg.cfg=} ;;
    esac
done

report() { echo "VMSG-E2E $*"; }

for m in $(cat /modules.list); do
    insmod "/lib/modules/$m" 2>/dev/null
done

# the devices appear asynchronously
i=0
while [ $i -lt 100 ] && { [ ! -b /dev/vda ] || [ ! -e /dev/hwrng ] ||
                          [ ! -e /sys/class/net/eth0 ]; }; do
    sleep 0.1
    i=$((i + 1))
done

# --- bench mode (tests/bench/README.rst) ----------------------------------

# Microseconds since boot: date's nanoseconds if busybox has them, else the
# hrtimer clock of /proc/timer_list
now_us()
{
    if [ "$clock" = date ]; then
        t=$(date +%s%N)
        echo "${t%???}"
    else
        sed -n 's/^now at \([0-9]*\)[0-9][0-9][0-9] nsecs$/\1/p;/^now at/q' \
            /proc/timer_list
    fi
}

# The disk (vdX) whose virtio-blk serial is $1
disk_with_serial()
{
    for d in /sys/block/vd*; do
        if [ "$(cat "$d/serial" 2>/dev/null)" = "$1" ]; then
            echo "${d##*/}"
            return
        fi
    done
}

# bench_dd DISK BS COUNT: O_DIRECT reads from the start of the disk
bench_dd()
{
    t0=$(now_us)
    dd if="/dev/$1" of=/dev/null bs="$2" count="$3" iflag=direct 2>/dev/null
    t1=$(now_us)
    echo $((t1 - t0))
}

# bench_cfg DISK N: N writes of the disk's cache_type (virtio-blk config
# field wce, flipped each time); each is a config write and a config read
bench_cfg()
{
    f=/sys/block/$1/cache_type
    i=0
    t0=$(now_us)
    while [ $i -lt "$2" ]; do
        echo "write through" >"$f"
        echo "write back" >"$f"
        i=$((i + 2))
    done
    t1=$(now_us)
    echo $((t1 - t0))
}

idle_forever()
{
    while :; do
        sleep 3600
    done
}

# Lines "VMSG-BENCH WHAT remote|local MICROSECONDS AMOUNT", remote (through
# the proxy) and local (virtio-blk-pci of the driver side) alternating:
# the config writes first, then "VMSG-BENCH cfg-done" and a pause (the host
# stops tracing the link), the reads, "VMSG-BENCH done" and an idle guest.
run_bench()
{
    clock=timer_list
    case "$(date +%s%N)" in
    *[!0-9]*) ;;
    *) clock="date" ;;
    esac
    i=0
    while [ $i -lt 100 ] && { [ -z "$(disk_with_serial remote)" ] ||
                              [ -z "$(disk_with_serial local)" ]; }; do
        sleep 0.1
        i=$((i + 1))
    done
    remote=$(disk_with_serial remote)
    here=$(disk_with_serial local)
    echo "VMSG-BENCH disks remote=$remote local=$here clock=$clock"
    if [ -z "$remote" ] || [ -z "$here" ]; then
        echo "VMSG-BENCH failed: disks missing"
        idle_forever
    fi
    # warm up both paths
    bench_dd "$remote" 4k 64 >/dev/null
    bench_dd "$here" 4k 64 >/dev/null
    r=0
    while [ $r -lt "$runs" ]; do
        echo "VMSG-BENCH cfg remote $(bench_cfg "$remote" "$cfg") $cfg"
        echo "VMSG-BENCH cfg local $(bench_cfg "$here" "$cfg") $cfg"
        r=$((r + 1))
    done
    echo "VMSG-BENCH cfg-done"
    sleep 3
    r=0
    while [ $r -lt "$runs" ]; do
        echo "VMSG-BENCH dd4k remote $(bench_dd "$remote" 4k "$dd4k") $dd4k"
        echo "VMSG-BENCH dd4k local $(bench_dd "$here" 4k "$dd4k") $dd4k"
        echo "VMSG-BENCH dd64k remote $(bench_dd "$remote" 64k "$dd64k") $dd64k"
        echo "VMSG-BENCH dd64k local $(bench_dd "$here" 64k "$dd64k") $dd64k"
        r=$((r + 1))
    done
    echo "VMSG-BENCH done"
    idle_forever
}

if [ "$mode" = bench ]; then
    run_bench
fi

if [ -b /dev/vda ]; then
    report disk "$(sha256sum /dev/vda | cut -d' ' -f1)"
else
    report disk missing
fi

if [ -e /sys/class/net/eth0 ]; then
    ip link set lo up
    ip link set eth0 up
    if udhcpc -i eth0 -s /udhcpc.sh -q -n -t 20 -T 1 >/dev/null 2>&1; then
        report dhcp "$(ip -4 addr show eth0 | sed -n 's/.*inet \([^ ]*\).*/\1/p')"
        if wget -q -O /tmp/fetched "$url"; then
            report net "$(sha256sum /tmp/fetched | cut -d' ' -f1)"
        else
            report net fetch-failed
        fi
    else
        report dhcp failed
    fi
else
    report net missing
fi

if [ -e /dev/hwrng ]; then
    dd if=/dev/hwrng of=/tmp/rng bs=1024 count=64 2>/dev/null
    report rng "$(wc -c < /tmp/rng) $(cat /sys/class/misc/hw_random/rng_current)"
else
    report rng missing
fi
report done

case "$mode" in
demo)
    cat <<MSG

  This guest's disk (/dev/vda), network (eth0) and RNG (/dev/hwrng) are
  virtio devices of another QEMU, reached through virtio-msg.  Try:
      cat /proc/interrupts | grep virtio
      ls /sys/bus/virtio/devices/*/
      ip addr show eth0; wget -O - $url | sha256sum
      dd if=/dev/hwrng bs=16 count=1 2>/dev/null | hexdump -C
  Stop with: poweroff -f   (or Ctrl-A then X)

MSG
    exec setsid cttyhack sh
    ;;
io-loop)
    # keep the disk busy until the host pulls the plug on the device side
    (while :; do dd if=/dev/vda of=/dev/null bs=64k 2>/dev/null; done) &
    # and read its configuration now and then (a request to the device)
    (while :; do cat /sys/block/vda/cache_type >/dev/null 2>&1; sleep 1
     done) &
    report io-loop running
    sleep 3600
    ;;
esac
poweroff -f
