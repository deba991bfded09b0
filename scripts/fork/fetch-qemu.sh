#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Fetch the upstream QEMU 10.0.x base of the virtio-msg fork.
#
# Usage: fetch-qemu.sh BUILD_DIR
#
# Resolves the newest QEMU 10.0.x that Debian's "qemu" source package offers
# and that actually downloads, lets apt verify it against the signed indices,
# unpacks it with Debian's patch series applied (dpkg-source -x) and records
# the exact version in BUILD_DIR/upstream/version.  Downloads are cached in
# BUILD_DIR/upstream/dl.  On success prints the path of the unpacked tree.

set -eu

here=$(cd "$(dirname "$0")" && pwd)
. "$here/apt-private.sh"

build=$1
up="$build/upstream"
mkdir -p "$up/dl"
up=$(cd "$up" && pwd)

if [ -f "$up/version" ] && [ -d "$up/qemu/.vmsg-unpacked" ]; then
    echo "$up/qemu"
    exit 0
fi

mirror=$(apt_private_mirror)
security=$(apt_private_security_mirror)
if [ -z "$mirror" ]; then
    echo "fetch-qemu: no Debian archive configured in apt; cannot fetch" \
         "the QEMU source (use ./configure --qemu-source=PATH)" >&2
    exit 1
fi
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
opt="[signed-by=$keyring]"
sources="deb-src $opt $mirror trixie main
deb-src $opt $mirror trixie-updates main
deb-src $opt $mirror trixie-backports main
deb-src $opt $mirror bookworm-backports main"
if [ -n "$security" ]; then
    sources="$sources
deb-src $opt $security trixie-security main"
fi

state="$build/apt-src"
apt_private_init "$state" "$sources"
apt_private_update "$state" >&2

versions=$(apt_private "$state" apt-cache showsrc qemu 2>/dev/null |
           sed -n 's/^Version: //p' | grep '^1:10\.0\.' | sort -u -V -r)
if [ -z "$versions" ]; then
    echo "fetch-qemu: no QEMU 10.0.x source package found" >&2
    exit 1
fi

chosen=
for v in $versions; do
    echo "fetch-qemu: trying qemu $v" >&2
    if (cd "$up/dl" &&
        apt_private "$state" apt-get source --download-only "qemu=$v") >&2
    then
        chosen=$v
        break
    fi
done
if [ -z "$chosen" ]; then
    echo "fetch-qemu: none of these versions downloads: $versions" >&2
    exit 1
fi

noepoch=${chosen#*:}
dsc="$up/dl/qemu_$noepoch.dsc"
rm -rf "$up/qemu" "$up/qemu.tmp"
dpkg-source --no-check -x "$dsc" "$up/qemu.tmp" >&2
mkdir "$up/qemu.tmp/.vmsg-unpacked"
mv "$up/qemu.tmp" "$up/qemu"
echo "Debian qemu $chosen" > "$up/version"
echo "fetch-qemu: using upstream QEMU $(cat "$up/qemu/VERSION")" \
     "(Debian source package qemu $chosen)" >&2
echo "$up/qemu"
