#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Install the Debian packages the virtio-msg fork needs to build and test.
#
# Usage: install-deps.sh BUILD_DIR [EXTRA-PACKAGE...]
#
# Installs only what is missing.  On Debian 12 (bookworm) meson >= 1.5 comes
# from bookworm-backports, through a private apt state under BUILD_DIR so the
# machine's own apt configuration is left untouched.

set -eu

here=$(cd "$(dirname "$0")" && pwd)
. "$here/apt-private.sh"

build=$1
shift

pkgs="gcc g++ make git ninja-build pkg-config python3 python3-venv flex bison
      libglib2.0-dev libpixman-1-dev libfdt-dev libslirp-dev zlib1g-dev
      dpkg-dev ipxe-qemu ccache $*"

missing=
for p in $pkgs; do
    if ! dpkg-query -W -f '${Status}' "$p" 2>/dev/null |
            grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done

meson_ok()
{
    v=$(/usr/bin/meson --version 2>/dev/null) || return 1
    [ "$(printf '%s\n1.5.0\n' "$v" | sort -V | head -n1)" = 1.5.0 ]
}

# pycotap is needed by upstream QEMU trees without Debian's patches
pycotap_ok()
{
    /usr/bin/python3 -c 'import pycotap' 2>/dev/null
}

need_meson=
meson_ok && pycotap_ok || need_meson=yes

[ -z "$missing" ] && [ -z "$need_meson" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo=sudo
    else
        echo "install-deps: missing packages:$missing${need_meson:+ meson>=1.5}" >&2
        echo "install-deps: run as root, or install them, then retry" >&2
        exit 1
    fi
else
    sudo=
fi

export DEBIAN_FRONTEND=noninteractive
if [ -n "$missing" ]; then
    echo "install-deps: installing$missing" >&2
    $sudo apt-get -q update >/dev/null
    # shellcheck disable=SC2086
    $sudo apt-get -q -y install --no-install-recommends $missing >&2
fi

if [ -n "$need_meson" ]; then
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    if [ "$codename" = bookworm ]; then
        mirror=$(apt_private_mirror)
        keyring=/usr/share/keyrings/debian-archive-keyring.gpg
        mkdir -p "$build"
        state="$(cd "$build" && pwd)/apt-bpo"
        apt_private_init "$state" \
            "deb [signed-by=$keyring] $mirror bookworm main
deb [signed-by=$keyring] $mirror bookworm-updates main
deb [signed-by=$keyring] $mirror bookworm-backports main"
        echo "install-deps: installing meson, python3-pycotap from" \
             "bookworm-backports" >&2
        $sudo sh -c ". '$here/apt-private.sh' &&
            apt_private_update '$state' &&
            apt_private '$state' apt-get -y install --no-install-recommends \
                -t bookworm-backports meson python3-pycotap" >&2
    else
        $sudo apt-get -q -y install --no-install-recommends meson \
            python3-pycotap >&2
    fi
    meson_ok && pycotap_ok || {
        echo "install-deps: meson >= 1.5 and pycotap are required" >&2
        exit 1
    }
fi
