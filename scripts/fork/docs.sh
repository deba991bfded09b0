#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build the HTML manual of QEMU, with the virtio-msg pages, using QEMU's
# own Sphinx setup (docs/conf.py and its extensions).
#
# Usage: docs.sh BUILD_DIR
#
# The docs are built in their own build directory, BUILD_DIR/docs-obj,
# configured from the assembled source tree BUILD_DIR/src with the
# options of the main build (BUILD_DIR/obj) plus --enable-docs and
# --enable-werror: the latter makes meson run sphinx-build with -W, so
# any Sphinx warning fails the build.  Nothing is compiled there; only
# the "html" target of docs/meson.build is built.  The main build is
# left untouched.
#
# The manual ends up in BUILD_DIR/docs (index.html at its top), the
# Sphinx log in BUILD_DIR/docs-obj/docs.log.

set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=$(mkdir -p "$1" && cd "$1" && pwd)
obj=$build/docs-obj
out=$build/docs
log=$obj/docs.log

start=$(date +%s)
say() { echo "docs: $*" >&2; }

sh "$here/install-deps.sh" "$build" python3-sphinx python3-sphinx-rtd-theme

# The source tree is the main build's: assemble it (a no-op when nothing
# changed) or, in a fresh clone, fetch, assemble and configure as 'make'
# does.
if [ -f "$build/obj/config.status" ] && [ -f "$build/config.sh" ]; then
    upstream=$(. "$build/config.sh" && echo "$upstream")
    (cd "$top" && sh scripts/fork/assemble.sh . "$upstream" "$build/src")
else
    (cd "$top" && ./configure --build-dir="$build")
fi

# Same upstream configure options as the main build (its config.status
# replays them in the current directory; later options win), plus the
# docs.  --disable-download: Sphinx must come from the system (Debian's
# packages above), never be fetched into the venv.
mkdir -p "$obj"
if [ ! -f "$obj/build.ninja" ] ||
   [ "$build/obj/config.status" -nt "$obj/config.status" ]; then
    say "configuring $obj"
    (cd "$obj" && sh "$build/obj/config.status" \
        --target-list=aarch64-softmmu \
        --enable-docs --enable-werror --disable-download) \
        > "$obj/configure.log" 2>&1 || {
        tail -n 30 "$obj/configure.log" >&2
        say "configure failed; see $obj/configure.log"
        exit 1
    }
fi

# meson re-runs itself first when a meson.build changed (after 'make'
# assembled new patches): its output goes to a log of its own, so that
# $log holds Sphinx's output only.
nice ninja -C "$obj" build.ninja > "$obj/regenerate.log" 2>&1 || {
    tail -n 30 "$obj/regenerate.log" >&2
    say "meson failed; see $obj/regenerate.log"
    exit 1
}

say "building the HTML manual in $obj/docs/manual (log: $log)"
nice ninja -C "$obj" html > "$log" 2>&1 || {
    grep -v -e '^\[[0-9]*/[0-9]*\]' -e '^ninja: ' "$log" | head -n 40 >&2
    say "Sphinx failed (warnings are errors); see $log"
    exit 1
}

# Sphinx runs with -q (only warnings and errors are printed) and -W
# (warnings are errors); anything it printed all the same fails too.
if grep -v -q -e '^\[[0-9]*/[0-9]*\]' -e '^ninja: ' "$log"; then
    grep -v -e '^\[[0-9]*/[0-9]*\]' -e '^ninja: ' "$log" | head -n 40 >&2
    say "Sphinx printed warnings or errors; see $log"
    exit 1
fi

# Publish: replace BUILD_DIR/docs with a copy of the manual
rm -rf "$out.tmp"
cp -a "$obj/docs/manual" "$out.tmp"
rm -rf "$out"
mv "$out.tmp" "$out"

say "HTML manual in $out/index.html ($(( $(date +%s) - start ))s)"
