#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Assemble the source tree of the virtio-msg fork.
#
# Usage: assemble.sh REPO UPSTREAM_TREE DEST
#
# DEST becomes a copy of UPSTREAM_TREE (made once), with the fork's own files
# overlaid as symlinks into REPO (so editing a file in the repository and
# running make rebuilds it) and the patches of REPO/patches/series applied.
# When the patches or the list of overlaid files change, the previous
# overlay and patches are undone file by file and applied again; nothing
# else in DEST is touched, so the build stays incremental.

set -eu

repo=$(cd "$1" && pwd)
upstream=$(cd "$2" && pwd)
dest=$3
overlay_dirs="hw include docs tests scripts contrib"

state="$dest/.vmsg"

list_overlay()
{
    (cd "$repo" && find $overlay_dirs -type f ! -name '*~' ! -name '.*' \
        2>/dev/null | LC_ALL=C sort)
}

series()
{
    sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$repo/patches/series"
    # trees without prebuilt firmware (Debian's "+ds" source, unpatched)
    if [ ! -e "$upstream/pc-bios/edk2-aarch64-code.fd.bz2" ] &&
       grep -q '^if unpack_edk2_blobs$' "$upstream/pc-bios/meson.build"; then
        echo optional/no-edk2-blobs.patch
    fi
}

stamp=$( (echo "$upstream"; list_overlay; series |
          while read -r p; do cat "$repo/patches/$p"; done) |
         cksum)

if [ -f "$state/stamp" ] && [ "$(cat "$state/stamp")" = "$stamp" ]; then
    exit 0
fi

if [ ! -d "$dest" ]; then
    echo "assemble: copying upstream tree into $dest" >&2
    rm -rf "$dest.tmp"
    cp -a "$upstream" "$dest.tmp"
    mkdir -p "$dest.tmp/.vmsg"
    : > "$dest.tmp/.vmsg/overlay"
    : > "$dest.tmp/.vmsg/patched"
    mv "$dest.tmp" "$dest"
fi

# Put back the upstream version of every file we overlaid or patched.
restore()
{
    if [ -e "$upstream/$1" ]; then
        rm -f "$dest/$1"
        cp "$upstream/$1" "$dest/$1"
    else
        rm -f "$dest/$1"
    fi
}
while read -r f; do restore "$f"; done < "$state/patched"
while read -r f; do restore "$f"; done < "$state/overlay"
: > "$state/patched"
: > "$state/overlay"

list_overlay > "$state/overlay.new"
while read -r f; do
    mkdir -p "$dest/$(dirname "$f")"
    rm -f "$dest/$f"
    ln -s "$repo/$f" "$dest/$f"
done < "$state/overlay.new"
mv "$state/overlay.new" "$state/overlay"

series > "$state/series"
while read -r p; do
    sed -n 's/^+++ [^/]*\/\([^[:space:]]*\).*/\1/p' "$repo/patches/$p" \
        >> "$state/patched"
    if ! patch -s -p1 -f -N --no-backup-if-mismatch -r - -d "$dest" < "$repo/patches/$p"; then
        echo "assemble: patch $p does not apply to $upstream" >&2
        rm -f "$state/stamp"
        exit 1
    fi
done < "$state/series"

echo "$stamp" > "$state/stamp"
echo "assemble: $(wc -l < "$state/overlay") files overlaid," \
     "$(wc -l < "$state/series") patches applied" >&2
