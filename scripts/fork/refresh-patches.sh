#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Refresh patches/*.patch from the assembled tree.
#
# Usage: refresh-patches.sh BUILD_DIR
#
# For developers: after editing an upstream file in BUILD_DIR/src (one that
# a patch of patches/series already touches), this rewrites each patch as
# its mail header followed by the diff of its files against the pristine
# upstream tree.  Each file must belong to one patch only.

set -eu

repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
. "$build/config.sh"

sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$repo/patches/series" |
while read -r p; do
    file="$repo/patches/$p"
    files=$(sed -n 's/^+++ [^/]*\/\([^[:space:]]*\).*/\1/p' "$file")
    {
        sed '/^---$/q' "$file"
        for f in $files; do
            diff -u --label "a/$f" --label "b/$f" "$upstream/$f" \
                "$build/src/$f" || true
        done
    } > "$file.new"
    mv "$file.new" "$file"
done
