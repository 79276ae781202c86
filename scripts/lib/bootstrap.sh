# shellcheck shell=bash
# Set-up steps shared by scripts/test and scripts/up. Source this file after setting
# BOOTSTRAP_NAME (the prefix of every printed line), then call the steps you need.
# Each step prints one line saying what it found or did, and does nothing when its work is
# already done. Steps that install Debian packages or start system services need root or sudo.

MODELWARD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MODELWARD_VENV="$MODELWARD_ROOT/.venv"
BUF_VERSION=1.75.0
BOOTSTRAP_NAME="${BOOTSTRAP_NAME:-bootstrap}"
_apt_updated=""

step() {
    printf '%s: %s\n' "$BOOTSTRAP_NAME" "$*"
}

die() {
    printf '%s: error: %s\n' "$BOOTSTRAP_NAME" "$*" >&2
    exit 1
}

is_ci() {
    case "${CI:-}" in
        [Tt][Rr][Uu][Ee] | 1 | [Yy][Ee][Ss]) return 0 ;;
        *) return 1 ;;
    esac
}

# Run a command with its output kept in a temporary file, which is shown only when it fails.
run_quietly() {
    local log status=0
    log="$(mktemp)"
    "$@" >"$log" 2>&1 || status=$?
    if [ "$status" -ne 0 ]; then
        printf '%s: command failed with exit status %d: %s\n' "$BOOTSTRAP_NAME" "$status" "$*" >&2
        tail -n 40 "$log" >&2
    fi
    rm -f "$log"
    return "$status"
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "root is needed to run: $* (run as root or install sudo)"
    fi
}

apt_install() {
    if [ -z "$_apt_updated" ]; then
        run_quietly as_root apt-get update
        _apt_updated=1
    fi
    run_quietly as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

port_open() {
    timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

wait_for_port() {
    local host="$1" port="$2" seconds="$3" waited=0
    until port_open "$host" "$port"; do
        if [ "$waited" -ge "$((seconds * 10))" ]; then
            return 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
}

ensure_venv() {
    if [ -x "$MODELWARD_VENV/bin/python" ]; then
        step "virtual environment .venv exists ($("$MODELWARD_VENV/bin/python" --version 2>&1))"
        return
    fi
    if ! command -v python3 >/dev/null 2>&1; then
        step "installing python3 with apt-get"
        apt_install python3
    fi
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
        die "modelward needs Python 3.11 or newer, but python3 is $(python3 --version 2>&1)"
    if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
        step "installing python3-venv with apt-get"
        apt_install python3-venv
    fi
    step "creating .venv with $(python3 --version 2>&1)"
    run_quietly python3 -m venv "$MODELWARD_VENV"
}

# Print the hash of what the editable install depends on: pyproject.toml and the list of
# packages, because setuptools' editable finder records each top-level package when it installs.
project_hash() {
    (
        cd "$MODELWARD_ROOT" || exit
        cat pyproject.toml
        ls -d libs/*/__init__.py services/*/*/__init__.py 2>/dev/null
    ) | sha256sum | cut -d ' ' -f 1
}

# Install modelward into .venv in editable mode, with the extras named in $1 (e.g. "test").
# The stamp file stores "HASH EXTRAS" of the last install. An install with extras also serves a
# request without them.
ensure_project_installed() {
    local extras="${1:-}" stamp_file="$MODELWARD_VENV/.modelward-install-stamp"
    local wanted recorded="" recorded_hash recorded_extras target
    wanted="$(project_hash)"
    if [ -f "$stamp_file" ]; then
        recorded="$(cat "$stamp_file")"
    fi
    recorded_hash="${recorded%% *}"
    recorded_extras="${recorded#* }"
    if [ "$recorded_hash" = "$wanted" ] && [ -x "$MODELWARD_VENV/bin/modelward" ] &&
        { [ -z "$extras" ] || [ "$recorded_extras" = "$extras" ]; }; then
        step "modelward${extras:+[$extras]} is installed in .venv and up to date with pyproject.toml"
        return
    fi
    target="$MODELWARD_ROOT"
    if [ -n "$extras" ]; then
        target="${MODELWARD_ROOT}[$extras]"
    fi
    step "installing modelward${extras:+[$extras]} into .venv in editable mode with pip"
    run_quietly "$MODELWARD_VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$target"
    printf '%s %s\n' "$wanted" "$extras" >"$stamp_file"
}

# Print the version of the PostgreSQL cluster on port 5432, else of the newest installed one.
_postgres_version() {
    local version
    version="$(pg_lsclusters --no-header 2>/dev/null | awk '$3 == 5432 { print $1; exit }')"
    if [ -z "$version" ]; then
        version="$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V | tail -n 1)"
    fi
    printf '%s\n' "$version"
}

_postgres_trusts_local_postgres_role() {
    PGCONNECT_TIMEOUT=5 psql -h 127.0.0.1 -p 5432 -U postgres -w -Atqc 'select 1' postgres >/dev/null 2>&1
}

# Make sure PostgreSQL runs on 127.0.0.1:5432 and lets the postgres role in over TCP without a
# password, which tests/conftest.py expects.
ensure_postgres() {
    local version hba
    if ! port_open 127.0.0.1 5432; then
        if ! command -v pg_lsclusters >/dev/null 2>&1; then
            step "installing PostgreSQL with apt-get"
            apt_install postgresql
        fi
        version="$(_postgres_version)"
        [ -n "$version" ] || die "no PostgreSQL cluster found in /etc/postgresql"
        step "starting PostgreSQL $version (cluster main)"
        if ! pg_lsclusters --no-header "$version" main 2>/dev/null | grep -q online; then
            run_quietly as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
        fi
        wait_for_port 127.0.0.1 5432 30 ||
            die "PostgreSQL $version did not listen on 127.0.0.1:5432 within 30 s; see /var/log/postgresql/"
    fi

    if ! command -v psql >/dev/null 2>&1; then
        step "PostgreSQL listens on 127.0.0.1:5432 (psql not found, so password-free login was not checked)"
        return
    fi
    if _postgres_trusts_local_postgres_role; then
        step "PostgreSQL on 127.0.0.1:5432 lets the postgres role in without a password"
        return
    fi

    version="$(_postgres_version)"
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    if [ -z "$version" ] || [ ! -f "$hba" ]; then
        die "PostgreSQL on 127.0.0.1:5432 rejected the postgres role without a password, and no pg_hba.conf was found to allow it"
    fi
    step "allowing the postgres role in without a password from 127.0.0.1 and ::1 in $hba"
    # shellcheck disable=SC2016 # $1 and $hba are expanded by the inner shell.
    as_root sh -c '
        hba="$1"
        {
            echo "# Added by modelward scripts/test: the tests connect as postgres over TCP without a password."
            echo "host    all    postgres    127.0.0.1/32    trust"
            echo "host    all    postgres    ::1/128         trust"
            cat "$hba"
        } >"$hba.modelward" && cat "$hba.modelward" >"$hba" && rm -f "$hba.modelward"
    ' sh "$hba"
    run_quietly as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
    _postgres_trusts_local_postgres_role ||
        die "PostgreSQL on 127.0.0.1:5432 still rejects the postgres role without a password; check $hba"
}

# Make sure a nats-server with JetStream runs on 127.0.0.1:4222.
ensure_nats() {
    if port_open 127.0.0.1 4222; then
        # NOTE: only the TCP port is checked, not whether that server has JetStream enabled.
        step "NATS accepts connections on 127.0.0.1:4222"
        return
    fi
    if [ ! -x /usr/sbin/nats-server ]; then
        step "installing nats-server with apt-get"
        apt_install nats-server
    fi
    step "starting /usr/sbin/nats-server with JetStream on 127.0.0.1:4222"
    as_root mkdir -p /var/lib/nats-server
    run_quietly as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
        -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
    wait_for_port 127.0.0.1 4222 15 ||
        die "nats-server did not listen on 127.0.0.1:4222 within 15 s; see /var/log/nats-server.log"
}

# Install the buf CLI, which tests/unit/test_protos_lint.py runs, into .tools with npm. A failure
# here is not fatal: that test then fails under CI=true and is skipped otherwise.
ensure_buf() {
    local buf="$MODELWARD_ROOT/.tools/node_modules/.bin/buf"
    if [ -x "$buf" ] && [ "$("$buf" --version 2>/dev/null)" = "$BUF_VERSION" ]; then
        step "buf $BUF_VERSION is installed in .tools"
        return
    fi
    if ! command -v npm >/dev/null 2>&1; then
        if ! is_ci; then
            step "npm not found, so buf is not installed and the proto lint test will be skipped"
            return
        fi
        step "installing npm with apt-get, to install buf"
        apt_install npm
    fi
    step "installing buf $BUF_VERSION into .tools with npm"
    run_quietly npm install --prefix "$MODELWARD_ROOT/.tools" --no-audit --no-fund --loglevel=error \
        "@bufbuild/buf@$BUF_VERSION" ||
        step "buf was not installed, so the proto lint test will fail under CI=true and be skipped otherwise"
}
