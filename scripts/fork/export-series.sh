#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Export the fork as a patch series for upstream QEMU.
#
# Usage: export-series.sh BUILD_DIR
#
# Builds the series of scripts/fork/series.txt as commits on top of the
# pristine upstream tree (the "$upstream" of BUILD_DIR/config.sh), in a
# throwaway git repository BUILD_DIR/series-git (commit "base", tag
# "base"; kept between runs and reset, made afresh when the upstream tree
# changes), and writes it with git format-patch, cover letter included, to
# BUILD_DIR/patches.
#
# Each patch adds its files of this repository, its share of the lines
# that patches/ add to upstream files (see scripts/fork/series.txt for how
# they are split; scripts/fork/series-lines.awk does it), the patches/ it
# carries whole, and its F: lines in a MAINTAINERS section.  The commit
# message is the subject, the body from scripts/fork/series/ and a
# Signed-off-by of the manifest's author.  The cover letter's text is
# scripts/fork/series/cover-letter.txt.
#
# At the end the tree of the last commit is compared with the assembled
# tree BUILD_DIR/src: they must differ only by the omitted files, the
# MAINTAINERS section and the build fixes of patches/optional.

set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "$1" && pwd)
# shellcheck disable=SC1091
. "$build/config.sh"
upstream=$(cd "$upstream" && pwd)

manifest=$here/series.txt
texts=$here/series
lines_awk=$here/series-lines.awk
work=$build/series-work
gitdir=$build/series-git
out=$build/patches
overlay_dirs="hw include docs tests scripts contrib"
never=100000
title="virtio-msg transport, AMP PCI device and two-QEMU link"

say() { echo "export-series: $*" >&2; }
die() { say "$*"; exit 1; }

rm -rf "$work"
mkdir -p "$work/diff" "$work/final" "$work/msg"

# --- the manifest ---------------------------------------------------------
# entries: INDEX<TAB>SUBJECT<TAB>BODY; claims: INDEX PATH; regs:
# INDEX<TAB>FILE<TAB>TEXT; ups: INDEX PATCH; meta: KEY<TAB>VALUE
awk -v w="$work" '
function bad(msg) {
    printf "export-series: series.txt:%d: %s\n", NR, msg > "/dev/stderr"
    err = 1
}
/^[ \t]*(#|$)/ { next }
{
    kw = $1
    rest = $0
    sub(/^[ \t]*[^ \t]+[ \t]*/, "", rest)
    sub(/[ \t]+$/, "", rest)
}
kw == "author" || kw == "maintainers-before" {
    print kw "\t" rest > (w "/meta")
    next
}
kw == "omit" { print "omit " rest > (w "/claims"); next }
kw == "patch" {
    n++
    subj[n] = rest
    next
}
!n { bad("\"" kw "\" outside a patch"); next }
kw == "body" { body[n] = rest; next }
kw == "file" { print n " " rest > (w "/claims"); next }
kw == "upstream" { print n " " rest > (w "/ups"); next }
kw == "reg" {
    f = rest
    t = ""
    if (match(rest, /[ \t]+/)) {
        f = substr(rest, 1, RSTART - 1)
        t = substr(rest, RSTART + RLENGTH)
    }
    print n "\t" f "\t" t > (w "/regs")
    next
}
{ bad("unknown keyword \"" kw "\"") }
END {
    for (i = 1; i <= n; i++) {
        if (body[i] == "") {
            bad("patch " i " (" subj[i] ") has no body")
        }
        print i "\t" subj[i] "\t" body[i] > (w "/entries")
    }
    exit err
}' "$manifest" || die "bad manifest $manifest"
for f in claims regs ups meta; do
    touch "$work/$f"
done
meta() { awk -F '\t' -v k="$1" '$1 == k { print $2 }' "$work/meta"; }
author=$(meta author)
before=$(meta maintainers-before)
[ -n "$author" ] || die "series.txt: no author"
[ -n "$before" ] || die "series.txt: no maintainers-before"
n=$(wc -l < "$work/entries")

# --- which patch adds which file -------------------------------------------
# shellcheck disable=SC2086
(cd "$repo" && find $overlay_dirs -type f ! -name '*~' ! -name '.*' \
     2>/dev/null | LC_ALL=C sort) > "$work/files"
awk -v never="$never" -v claims="$work/claims" '
BEGIN {
    while ((getline line < claims) > 0) {
        split(line, f, " ")
        nc++
        CI[nc] = f[1]
        CP[nc] = f[2]
        used[nc] = 0
    }
}
{
    who = ""
    for (c = 1; c <= nc; c++) {
        p = CP[c]
        if ($0 == p || (p ~ /\/$/ && substr($0, 1, length(p)) == p)) {
            if (who != "") {
                print "export-series: " $0 " is in two places of" \
                      " series.txt" > "/dev/stderr"
                err = 1
            }
            who = CI[c]
            used[c] = 1
        }
    }
    if (who == "") {
        print "export-series: " $0 " is in no patch of series.txt" \
              " (add a \"file\" or \"omit\" line)" > "/dev/stderr"
        err = 1
    }
    print $0 " " (who == "omit" ? never : who)
}
END {
    for (c = 1; c <= nc; c++) {
        if (!used[c]) {
            print "export-series: series.txt names " CP[c] \
                  ", which is not in the repository" > "/dev/stderr"
            err = 1
        }
    }
    exit err
}' "$work/files" > "$work/map" || die "fix scripts/fork/series.txt"

# --- the upstream files that patches/ change -------------------------------
sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$repo/patches/series" \
    > "$work/patches"
files_of() {
    sed -n 's/^+++ [^/]*\/\([^[:space:]]*\).*/\1/p' "$repo/patches/$1"
}
while read -r i p; do
    grep -qx "$p" "$work/patches" ||
        die "series.txt: upstream $p: not in patches/series"
    for f in $(files_of "$p"); do
        printf '%s\t%s\t\n' "$i" "$f" >> "$work/regs"
    done
done < "$work/ups"
while read -r p; do
    files_of "$p"
done < "$work/patches" | LC_ALL=C sort -u > "$work/upfiles"

# Each file with every patch of patches/series, and what they add
while read -r f; do
    if [ -f "$upstream/$f" ]; then
        mkdir -p "$work/final/$(dirname "$f")"
        cp "$upstream/$f" "$work/final/$f"
    fi
done < "$work/upfiles"
while read -r p; do
    patch -s -p1 -f -N --no-backup-if-mismatch -r - -d "$work/final" \
        < "$repo/patches/$p" || die "patches/$p does not apply to $upstream"
done < "$work/patches"
key() { echo "$1" | tr / _; }
orig_of() {
    if [ -f "$upstream/$1" ]; then echo "$upstream/$1"; else echo /dev/null; fi
}
lines() {
    awk -f "$lines_awk" -v k="$1" -v path="$2" -v map="$work/map" \
        -v regs="$work/regs" -v diff="$work/diff/$(key "$2")" \
        -v orig="$(orig_of "$2")"
}
err=0
while read -r f; do
    diff -U0 "$(orig_of "$f")" "$work/final/$f" > "$work/diff/$(key "$f")" || :
    lines 0 "$f" < /dev/null || err=1
done < "$work/upfiles"
[ "$err" = 0 ] || die "fix scripts/fork/series.txt"

# --- MAINTAINERS: our section, with the F: lines of the files so far -------
# (those of the files that the F: patterns of our MAINTAINERS cover)
maintainers() {
    awk -v k="$1" -v map="$work/map" -v title="virtio-msg" \
        -v author="$author" -v before="$before" -v ours="$repo/MAINTAINERS" '
    function glob2re(g,    r, i, c) {
        r = "^"
        for (i = 1; i <= length(g); i++) {
            c = substr(g, i, 1)
            if (c == "*") {
                r = r ".*"
            } else if (c == "?") {
                r = r "."
            } else if (c ~ /[.+^$(){}|\\]/) {
                r = r "\\" c
            } else {
                r = r c
            }
        }
        return r (g ~ /\/$/ ? "" : "$")
    }
    BEGIN {
        while ((getline line < map) > 0) {
            split(line, f, " ")
            if (f[2] + 0 <= k) {
                present[++np] = f[1]
            }
        }
        while ((getline line < ours) > 0) {
            if (line !~ /^F:[ \t]/) {
                continue
            }
            g = line
            sub(/^F:[ \t]+/, "", g)
            re = glob2re(g)
            for (i = 1; i <= np; i++) {
                if (present[i] !~ re || (present[i] in listed)) {
                    continue
                }
                # a directory as such, files one by one (so that each
                # patch names its own files, as checkpatch.pl wants)
                if (g ~ /\/$/) {
                    fl = fl "F: " g "\n"
                    break
                }
                listed[present[i]] = 1
                fl = fl "F: " present[i] "\n"
            }
        }
        section = fl == "" ? "" : title "\nM: " author "\nS: Maintained\n" fl
    }
    $0 == before && section != "" {
        printf "%s\n", section
        done = 1
    }
    { print }
    END {
        if (section != "" && !done) {
            print "export-series: no section \"" before "\" in" \
                  " MAINTAINERS" > "/dev/stderr"
            exit 1
        }
    }' "$upstream/MAINTAINERS"
}

# --- the repository: "base", then one commit per patch ---------------------
base_id="$upstream $(cat "$build/upstream/version" 2>/dev/null || :)"
g() { git -C "$gitdir" "$@"; }
if [ -d "$gitdir/.git" ] &&
   [ "$(cat "$gitdir/.git/vmsg-base" 2>/dev/null)" = "$base_id" ] &&
   g rev-parse -q --verify refs/tags/base > /dev/null; then
    g checkout -q -f -B series base
    g clean -q -f -d -x
else
    say "making $gitdir from $upstream"
    rm -rf "$gitdir"
    cp -a "$upstream" "$gitdir"
    g init -q
    g add -A -f
    GIT_AUTHOR_NAME=base GIT_AUTHOR_EMAIL=base@example.invalid \
    GIT_COMMITTER_NAME=base GIT_COMMITTER_EMAIL=base@example.invalid \
        g -c commit.gpgsign=false commit -q -m "base: upstream QEMU" \
        -m "$base_id"
    g tag base
    g checkout -q -B series
    echo "$base_id" > "$gitdir/.git/vmsg-base"
fi

name=${author% <*}
email=${author##*<}
email=${email%>}
stamp="$(git -C "$repo" log -1 --format=%ct 2>/dev/null || echo 0) +0000"
GIT_AUTHOR_NAME=$name GIT_AUTHOR_EMAIL=$email GIT_AUTHOR_DATE=$stamp
GIT_COMMITTER_NAME=$name GIT_COMMITTER_EMAIL=$email GIT_COMMITTER_DATE=$stamp
export GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL GIT_AUTHOR_DATE
export GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL GIT_COMMITTER_DATE

tab=$(printf '\t')
k=0
while IFS=$tab read -r i subject body; do
    k=$((k + 1))
    [ "$i" = "$k" ] || die "internal: patch $i out of order"
    awk -v k="$k" '$2 == k { print $1 }' "$work/map" > "$work/add"
    while read -r f; do
        mkdir -p "$gitdir/$(dirname "$f")"
        cp "$repo/$f" "$gitdir/$f"
    done < "$work/add"
    while read -r f; do
        lines "$k" "$f" < /dev/null > "$work/new" ||
            die "cannot derive $f for patch $k"
        if [ ! -f "$upstream/$f" ] && [ ! -s "$work/new" ]; then
            rm -f "$gitdir/$f"
        elif ! cmp -s "$work/new" "$gitdir/$f"; then
            mkdir -p "$gitdir/$(dirname "$f")"
            cp "$work/new" "$gitdir/$f"
        fi
    done < "$work/upfiles"
    maintainers "$k" > "$work/new" || die "cannot write MAINTAINERS"
    cmp -s "$work/new" "$gitdir/MAINTAINERS" ||
        cp "$work/new" "$gitdir/MAINTAINERS"

    [ -f "$texts/$body" ] || die "patch $k: no body $texts/$body"
    msg=$work/msg/$k
    {
        echo "$subject"
        echo
        cat "$texts/$body"
        echo
        echo "Signed-off-by: $author"
    } > "$msg"
    awk -v k="$k" 'NR > 1 && length > 72 {
        printf "export-series: patch %d: body line over 72 columns: %s\n",
               k, $0 > "/dev/stderr"
        err = 1
    }
    END { exit err }' "$texts/$body" || die "rewrap $texts/$body"
    g add -A -f
    if g diff --cached --quiet; then
        die "patch $k ($subject) changes nothing"
    fi
    g -c commit.gpgsign=false commit -q -F "$msg"
done < "$work/entries"

# --- the last commit against the assembled tree ----------------------------
if [ -d "$build/src" ]; then
    for p in "$repo"/patches/optional/*.patch; do
        [ -f "$p" ] && sed -n 's/^+++ [^/]*\/\([^[:space:]]*\).*/\1/p' "$p"
    done > "$work/optional"
    diff -rq -x .git -x ".vmsg*" "$gitdir" "$build/src" > "$work/tree.diff" || :
    awk -v a="$gitdir/" -v b="$build/src/" -v claims="$work/claims" \
        -v optional="$work/optional" '
    BEGIN {
        while ((getline line < claims) > 0) {
            split(line, c, " ")
            if (c[1] == "omit") {
                omit[++no] = c[2]
            }
        }
        while ((getline line < optional) > 0) {
            opt[line] = 1
        }
    }
    # whether path p (a file or a directory) holds omitted files only
    function omitted(p,    i, o) {
        for (i = 1; i <= no; i++) {
            o = omit[i]
            if (p == o || p "/" == o ||
                (o ~ /\/$/ && substr(p, 1, length(o)) == o)) {
                return 1
            }
        }
        return 0
    }
    /^Only in / {
        line = $0
        sub(/^Only in /, "", line)
        d = line
        sub(/: .*/, "", d)
        name = line
        sub(/^[^:]*: /, "", name)
        side = index(d "/", b) == 1 ? "src" : "series"
        d = d "/"
        d = substr(d, length(side == "src" ? b : a) + 1)
        p = d name
        if (side == "src" && omitted(p)) {
            next
        }
        if (side == "src") {
            # made by builds in the tree, not a file of the repository
            print "export-series: note: not from the repository: " p \
                  > "/dev/stderr"
            next
        }
        print "export-series: only in the " \
              (side == "src" ? "assembled tree" : "series") ": " p \
              > "/dev/stderr"
        err = 1
        next
    }
    /^Files / {
        p = $2
        p = substr(p, length(a) + 1)
        if (p == "MAINTAINERS" || (p in opt)) {
            next
        }
        print "export-series: differs from the assembled tree: " p \
              > "/dev/stderr"
        err = 1
        next
    }
    { print "export-series: " $0 > "/dev/stderr"; err = 1 }
    END { exit err }' "$work/tree.diff" ||
        die "the series does not add up to $build/src (is it assembled?)"
    say "the last commit equals $build/src but for the omitted files," \
        "MAINTAINERS and patches/optional"
else
    say "no $build/src: the result is not compared with the assembled tree"
fi

# --- the mails ---------------------------------------------------------------
rm -rf "$out"
mkdir -p "$out"
g -c core.abbrev=12 format-patch -q --cover-letter --no-signature \
    -o "$out" base..series > /dev/null
base_desc="QEMU $(cat "$upstream/VERSION")"
if [ -f "$build/upstream/version" ]; then
    base_desc="$base_desc ($(cat "$build/upstream/version"))"
fi
cover=$(ls "$out"/0000-*.patch)
awk -v title="$title" -v blurb="$texts/cover-letter.txt" \
    -v base="$base_desc" '
/\*\*\* SUBJECT HERE \*\*\*/ { sub(/\*\*\* SUBJECT HERE \*\*\*/, title) }
/^\*\*\* BLURB HERE \*\*\*$/ {
    while ((getline line < blurb) > 0) {
        gsub(/@BASE@/, base, line)
        print line
    }
    next
}
{ print }' "$cover" > "$work/cover"
mv "$work/cover" "$cover"
say "$n patches and a cover letter in $out"
