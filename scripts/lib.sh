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

# Exports fresh token secrets made by BIN (an authd binary), for the instances a script starts:
# one deployment, for this run only, never written to disk.
fresh_secrets() {
    ACCESS_TOKEN_SECRET=$("$1" gen-secret)
    REFRESH_TOKEN_SECRET=$("$1" gen-secret)
    export ACCESS_TOKEN_SECRET REFRESH_TOKEN_SECRET
}

# start_authd BIN PORT LOG [SERVE ARGUMENTS...]: starts `BIN serve` on PORT in the background, with
# the caller's environment and no .env file, its output appended to LOG. Sets `authd_pid`. Wait for
# it with await_authd.
start_authd() {
    local bin=$1 port=$2 log=$3
    shift 3
    "$bin" serve --port "$port" --env-file /dev/null "$@" >>"$log" 2>&1 &
    authd_pid=$!
}

# await_authd PORT LOG PID [SECONDS]: waits until the instance on PORT answers /readyz; fails loudly,
# with the end of its log, when it exits first or is not ready within SECONDS (60: a cold start
# on a loaded machine takes a few).
await_authd() {
    await_server "http://127.0.0.1:$1/readyz" "$2" "$3" "authd on port $1" "${4:-60}" -f
}

# await_server URL LOG PID NAME SECONDS [CURL_FLAGS]: waits until URL answers (with -f: with a
# 2xx); fails loudly, with the end of LOG, when the process PID exits first or SECONDS pass.
await_server() {
    local url=$1 log=$2 pid=$3 name=$4 seconds=$5 flags=${6:-}
    local deadline=$((SECONDS + seconds))
    while [ "$SECONDS" -lt "$deadline" ]; do
        # shellcheck disable=SC2086 # flags is one optional word
        curl -s $flags -o /dev/null "$url" 2>/dev/null && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "$name exited before it was ready; the end of $log:" >&2
            tail -20 "$log" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "$name was not ready within ${seconds}s; the end of $log:" >&2
    tail -20 "$log" >&2
    return 1
}

# gateway_nginx DIR NAME LISTEN_PORT AUTHD_PORT APP_PORT [WORKER_CONNECTIONS]: deploy/gateways/nginx.conf
# as shipped, only its addresses replaced (authd and the app on loopback), in DIR/gateway-NAME.conf,
# and a main file DIR/nginx-NAME.conf that includes it, with its pid (DIR/nginx-NAME.pid), log and
# temporary files in DIR. Start it with `nginx -c DIR/nginx-NAME.conf -p DIR`.
gateway_nginx() {
    local dir=$1 name=$2 listen=$3 authd=$4 app=$5 connections=${6:-256}
    sed -e "s|authd:8080|127.0.0.1:$authd|; s|app:3000|127.0.0.1:$app|; s|listen 80;|listen 127.0.0.1:$listen;|" \
        deploy/gateways/nginx.conf >"$dir/gateway-$name.conf"
    cat >"$dir/nginx-$name.conf" <<CONF
daemon on;
pid $dir/nginx-$name.pid;
error_log $dir/nginx-$name-error.log warn;
worker_processes 1;
events { worker_connections $connections; }
http {
    access_log off;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    include $dir/gateway-$name.conf;
}
CONF
}
