# SPDX-License-Identifier: GPL-2.0-or-later
#
# Private apt state for the virtio-msg fork's build scripts (sourced, POSIX sh).
#
# Everything lives under a directory of our own: the machine's apt
# configuration and lists are never modified.  The mirror is the one the
# machine is already configured with; no host name is written here.

# Print the base URI of the machine's configured Debian archive
# (the first non-security "deb" source).
apt_private_mirror()
{
    apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
        awk '$2 !~ /-security$/ && $1 ~ /debian\/?$/ { print $1; exit }'
}

# Print the URI of the machine's configured security archive, if any.
apt_private_security_mirror()
{
    apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
        awk '$2 ~ /-security$/ { print $1; exit }'
}

# apt_private_init DIR SOURCES_TEXT
# Prepare DIR as a private apt state with SOURCES_TEXT as its sources list.
apt_private_init()
{
    _dir=$1
    mkdir -p "$_dir/lists/partial" "$_dir/archives/partial"
    printf '%s\n' "$2" > "$_dir/sources.list.new"
    if ! cmp -s "$_dir/sources.list.new" "$_dir/sources.list" 2>/dev/null; then
        mv "$_dir/sources.list.new" "$_dir/sources.list"
        rm -f "$_dir/updated"
    else
        rm -f "$_dir/sources.list.new"
    fi
}

# apt_private DIR APT-COMMAND ARGS...
apt_private()
{
    _dir=$1
    shift
    _cmd=$1
    shift
    "$_cmd" -q \
        -o Dir::Etc::sourcelist="$_dir/sources.list" \
        -o Dir::Etc::sourceparts=/nonexistent \
        -o Dir::State::Lists="$_dir/lists" \
        -o Dir::Cache::archives="$_dir/archives" \
        -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \
        -o APT::Sandbox::User=root \
        "$@"
}

# apt_private_update DIR: refresh the private lists at most once a day.
apt_private_update()
{
    if [ -z "$(find "$1/updated" -mmin -1440 2>/dev/null)" ]; then
        apt_private "$1" apt-get update >"$1/update.log" 2>&1 || {
            cat "$1/update.log" >&2
            return 1
        }
        touch "$1/updated"
    fi
}
