# SPDX-License-Identifier: GPL-2.0-or-later
#
# An upstream file as it is after patch K of the series
# (scripts/fork/export-series.sh; the rules are in scripts/fork/series.txt).
#
# Usage: awk -f series-lines.awk -v k=K -v path=FILE -v map=MAP -v regs=REGS \
#            -v diff=DIFF -v orig=ORIG
#
#   FILE  the file's path in the tree (relative names in it are resolved
#         against its directory)
#   MAP   "PATH INDEX" lines: each file of the repository and the number of
#         the patch that adds it (a big number for omitted files)
#   REGS  "INDEX<TAB>FILE<TAB>TEXT" lines: the "reg" lines of the manifest
#   DIFF  diff -U0 ORIG FINAL, FINAL being the file with all of patches/
#   ORIG  the upstream file (/dev/null if there is none)
#
# Writes the file to standard output; K = 0 checks that every changed line
# has an owner, and exits with 1 (and a message) if one has not.

function die(msg) {
    print "series-lines: " path ": " msg > "/dev/stderr"
    failed = 1
    exit 1
}

function norm(p,    n, i, a, m, s, out) {
    n = split(p, a, "/")
    m = 0
    for (i = 1; i <= n; i++) {
        if (a[i] == "" || a[i] == ".") {
            continue
        }
        if (a[i] == "..") {
            if (m > 0) {
                m--
            }
            continue
        }
        s[++m] = a[i]
    }
    out = ""
    for (i = 1; i <= m; i++) {
        out = out (i > 1 ? "/" : "") s[i]
    }
    return out
}

# The patch that adds the repository file (or directory) @t names, 0 if
# it names none; @t is relative to the file's directory or to the root.
function resolve(t,    c, i, n) {
    n = 0
    if (dir != "") {
        cand[++n] = norm(dir "/" t)
    }
    cand[++n] = norm(t)
    for (i = 1; i <= n; i++) {
        c = cand[i]
        if (c in own) {
            return own[c]
        }
        if ((c ".c") in own) {
            return own[c ".c"]
        }
        if (c in dirmin) {
            return dirmin[c]
        }
    }
    return 0
}

# The repository files line @l names: quoted names ('a.c', "x/y",
# 'test-foo') and unquoted names with an extension (# foo.c).  Sets
# TS[i], TE[i] (first and last column, quotes included), TW[i] (owner) and
# TQ[i] (quoted); returns their number.
function scan(l,    n, pos, s, start, len, tok, before, after, q, o) {
    n = 0
    pos = 1
    s = l
    while (match(s, /[A-Za-z0-9_.\/+-]+/)) {
        start = pos + RSTART - 1
        len = RLENGTH
        tok = substr(l, start, len)
        before = substr(l, start - 1, 1)
        after = substr(l, start + len, 1)
        q = (before == "'" && after == "'") || (before == "\"" && after == "\"")
        if (q || tok ~ /\.[A-Za-z]+$/) {
            o = resolve(tok)
            if (o) {
                n++
                TS[n] = q ? start - 1 : start
                TE[n] = q ? start + len : start + len - 1
                TW[n] = o
                TQ[n] = q
            }
        }
        pos = start + len
        s = substr(l, pos)
    }
    return n
}

# Whether the @n names of line @l are all items of a list: quoted, after
# "(", "[" or "," and before ",", ")" or "]".
function listlike(l, n,    i, b, a) {
    for (i = 1; i <= n; i++) {
        if (!TQ[i]) {
            return 0
        }
        b = substr(l, 1, TS[i] - 1)
        sub(/[ \t]+$/, "", b)
        a = substr(l, TE[i] + 1)
        sub(/^[ \t]+/, "", a)
        if (b !~ /[(\[,]$/ || a !~ /^[,)\]]/) {
            return 0
        }
    }
    return 1
}

# Line @l of a list without the items of patches after k.
function filter(l,    n, i, a, b) {
    n = scan(l)
    for (i = n; i >= 1; i--) {
        if (TW[i] <= k) {
            continue
        }
        a = substr(l, TE[i] + 1)
        b = substr(l, 1, TS[i] - 1)
        if (match(a, /^[ \t]*,[ \t]*/)) {
            l = b substr(a, RLENGTH + 1)
        } else if (match(b, /,[ \t]*$/)) {
            l = substr(b, 1, RSTART - 1) a
        } else {
            l = b a
        }
    }
    return l
}

function blank(l) {
    return l ~ /^[ \t]*$/
}

# Owners of the added lines first .. last (one hunk).
function assign(first, last,    i, j, n, lo, hi, r, sp, st, mn) {
    for (i = first; i <= last; i++) {
        W[i] = 0
        L[i] = 0
        for (r = 1; r <= nregs; r++) {
            if (RF[r] == path && (RT[r] == "" || index(A[i], RT[r]))) {
                W[i] = RI[r]
                break
            }
        }
        if (W[i]) {
            continue
        }
        n = scan(A[i])
        if (!n) {
            continue
        }
        lo = hi = TW[1]
        for (j = 2; j <= n; j++) {
            lo = TW[j] < lo ? TW[j] : lo
            hi = TW[j] > hi ? TW[j] : hi
        }
        if (lo != hi && listlike(A[i], n)) {
            W[i] = lo
            L[i] = 1
        } else {
            W[i] = hi
        }
    }
    # if ... endif (meson, Kconfig) around owned lines: with the first
    sp = 0
    for (i = first; i <= last; i++) {
        if (A[i] ~ /^[ \t]*if[ \t(]/) {
            st[++sp] = i
        } else if (A[i] ~ /^[ \t]*endif/ && sp > 0) {
            mn = 0
            for (j = st[sp] + 1; j < i; j++) {
                if (W[j] && (!mn || W[j] < mn)) {
                    mn = W[j]
                }
            }
            for (j = st[sp]; j <= i; j++) {
                if (!W[j] && (j == st[sp] || j == i ||
                              A[j] ~ /^[ \t]*(else|elif)/)) {
                    W[j] = mn
                }
            }
            sp--
        }
    }
    # the other lines of a paragraph: with the owned line before them, or
    # after them
    for (i = first; i <= last; i++) {
        if (W[i] || blank(A[i])) {
            continue
        }
        for (j = i - 1; j >= first && !blank(A[j]) && !W[j]; j--) {
        }
        if (j >= first && !blank(A[j])) {
            W[i] = W[j]
            continue
        }
        for (j = i + 1; j <= last && !blank(A[j]) && !W[j]; j++) {
        }
        if (j <= last && !blank(A[j])) {
            W[i] = W[j]
        }
    }
    # blank lines: with the paragraph they separate from the context
    for (i = first; i <= last; i++) {
        if (!blank(A[i])) {
            continue
        }
        if (blank(A[first])) {
            for (j = i + 1; j <= last && blank(A[j]); j++) {
            }
        } else {
            for (j = i - 1; j >= first && blank(A[j]); j--) {
            }
        }
        if (j >= first && j <= last) {
            W[i] = W[j]
        }
    }
    for (i = first; i <= last; i++) {
        if (!W[i]) {
            die("no patch of the series adds the line \"" A[i] "\"" \
                " (name one of its files, or add \"reg " path " TEXT\"" \
                " to a patch in scripts/fork/series.txt)")
        }
    }
}

BEGIN {
    dir = path
    if (!sub(/\/[^\/]*$/, "", dir)) {
        dir = ""
    }
    while ((getline line < map) > 0) {
        split(line, f, " ")
        own[f[1]] = f[2] + 0
        p = f[1]
        while (sub(/\/[^\/]*$/, "", p)) {
            if (!(p in dirmin) || dirmin[p] > f[2] + 0) {
                dirmin[p] = f[2] + 0
            }
        }
    }
    nregs = 0
    while ((getline line < regs) > 0) {
        split(line, f, "\t")
        nregs++
        RI[nregs] = f[1] + 0
        RF[nregs] = f[2]
        RT[nregs] = f[3]
    }

    # hunks of the diff: H* per hunk, the added lines in A[]
    nh = 0
    na = 0
    while ((getline line < diff) > 0) {
        if (line ~ /^@@ /) {
            split(line, f, " ")
            o = substr(f[2], 2)
            c = split(o, g, ",")
            nh++
            HS[nh] = g[1] + 0
            HD[nh] = c > 1 ? g[2] + 0 : 1
            HF[nh] = na + 1
            HL[nh] = na
        } else if (nh && line ~ /^\+/) {
            A[++na] = substr(line, 2)
            HL[nh] = na
        } else if (nh && line ~ /^-/) {
            HX[nh] = HX[nh] "\n" substr(line, 2)
        }
    }
    for (h = 1; h <= nh; h++) {
        if (HF[h] <= HL[h]) {
            assign(HF[h], HL[h])
        }
        # a hunk that replaces lines goes in whole to one patch: the one
        # that owns all its new lines, or a "reg" of the whole file
        HO[h] = 0
        if (HD[h]) {
            for (r = 1; r <= nregs; r++) {
                if (RF[r] == path && RT[r] == "") {
                    HO[h] = RI[r]
                    break
                }
            }
            for (j = HF[h]; !HO[h] && j <= HL[h]; j++) {
                if (j > HF[h] && W[j] != W[HF[h]]) {
                    break
                }
                if (j == HL[h]) {
                    HO[h] = W[j]
                }
            }
            if (!HO[h]) {
                die("the change of line " HS[h] " replaces upstream lines" \
                    " with lines of several patches: give it to one" \
                    " (\"reg " path " TEXT\")")
            }
        }
    }
    if (failed || k == 0) {
        exit failed
    }

    # the file after patch k
    n = 0
    h = 1
    if (orig != "/dev/null") {
        while ((getline line < orig) > 0) {
            U[++n] = line
        }
    }
    for (i = 0; i <= n; i++) {
        if (i > 0 && !skip[i]) {
            print U[i]
        }
        # hunks that replace lines i + 1 ...; insertions after line i
        while (h <= nh && ((HD[h] && HS[h] == i + 1) ||
                           (!HD[h] && HS[h] == i))) {
            if (HD[h] && HO[h] > k) {
                h++
                continue
            }
            for (j = HS[h]; j < HS[h] + HD[h]; j++) {
                skip[j] = 1
            }
            for (j = HF[h]; j <= HL[h]; j++) {
                if (HD[h] && !L[j]) {
                    print A[j]
                } else if (HD[h] || W[j] <= k) {
                    print (L[j] ? filter(A[j]) : A[j])
                }
            }
            h++
        }
    }
}
