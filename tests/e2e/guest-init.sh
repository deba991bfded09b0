#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# /init of the end-to-end test's initramfs (busybox).  It loads the virtio
# modules, then checks the three virtio devices served over virtio-msg:
#   disk:  sha256 of /dev/vda
#   net:   DHCP, then a file fetched over TCP from vmsg.url, its sha256
#   rng:   64 KiB read from /dev/hwrng
# and prints "VMSG-E2E <what> <value>" lines for the host to compare.
# Kernel parameters: vmsg.url=URL, vmsg.mode=test|demo|io-loop.

/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /tmp

url=
mode=test
for arg in $(cat /proc/cmdline); do
    case "$arg" in
    vmsg.url=*) url=${arg#vmsg.url=} ;;
    vmsg.mode=*) mode=${arg#vmsg.mode=} ;;
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
