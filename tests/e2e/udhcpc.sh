#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# udhcpc event script of the end-to-end test's initramfs
case "$1" in
bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$router" ] && ip route add default via "${router%% *}"
    ;;
esac
exit 0
