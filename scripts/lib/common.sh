# Shared shell helpers for AgentQueue's scripts. Source it; do not run it.
# shellcheck shell=bash

AQ_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

log() { printf '%s %s\n' "[$(date +%H:%M:%S)]" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# as_root CMD...: run a command as root (directly, or through sudo when available).
as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else die "need root to run: $* (install the packages yourself or run as root)"
    fi
}

# apt_install PKG...: install the Debian packages that are missing; one apt process, retried on the dpkg lock.
apt_install() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]}"
    local attempt
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        if as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 &&
           as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/aq-apt.log 2>&1; then
            return 0
        fi
        if grep -qE 'Could not get lock|dpkg was interrupted|Unable to acquire' /tmp/aq-apt.log 2>/dev/null; then
            log "apt is busy (dpkg lock); retrying in 5 s ($attempt/10)"
            sleep 5
            continue
        fi
        cat /tmp/aq-apt.log >&2
        die "apt-get install ${missing[*]} failed"
    done
    die "apt stayed locked; could not install ${missing[*]}"
}

# pip_install MODULE PACKAGE...: make a Python module importable, installing the packages from PyPI when missing.
pip_install() {
    local module=$1
    shift
    python3 -c "import $module" 2>/dev/null && return 0
    log "installing $* from PyPI"
    python3 -m pip install -q --disable-pip-version-check "$@" >/tmp/aq-pip.log 2>&1 ||
        { cat /tmp/aq-pip.log >&2; die "pip install $* failed"; }
}
