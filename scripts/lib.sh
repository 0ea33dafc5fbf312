# Shared by scripts/serve and scripts/test. Sourced, not run.

# The Debian packages authd needs to build, run and test.
AUTHD_PACKAGES="libhiredis-dev libargon2-dev redis-server"

# Installs the missing packages when root; otherwise says exactly what to install and stops.
ensure_system_packages() {
    local missing=""
    for pkg in $AUTHD_PACKAGES "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
    done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" -eq 0 ]; then
        echo "installing:$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing
    else
        echo "authd needs these Debian packages:$missing" >&2
        echo "install them with:  sudo apt-get install -y$missing" >&2
        exit 1
    fi
}

# The pinned Python tools (scripts/python-requirements.txt) in .build-fuzz-venv/, installed from
# PyPI once, and again whenever the requirements change.
PYTHON_VENV=.build-fuzz-venv
ensure_python_tools() {
    local stamp=$PYTHON_VENV/requirements.txt
    if ! cmp -s scripts/python-requirements.txt "$stamp"; then
        [ -x "$PYTHON_VENV/bin/pip" ] || python3 -m venv "$PYTHON_VENV"
        "$PYTHON_VENV/bin/pip" install -q -r scripts/python-requirements.txt
        cp scripts/python-requirements.txt "$stamp"
    fi
}
