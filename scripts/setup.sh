# Shared set-up for scripts/demo and scripts/test; source it, do not run it.
# Creates .venv with every dependency (reinstalling only when pyproject.toml changes),
# and, for the tests, starts PostgreSQL and makes the test role and database.

AA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
AA_VENV="$AA_ROOT/.venv"
AA_PG_ROLE="aa_test"
AA_PG_PASSWORD="aa_test"
AA_PG_DB="aa_test"
# A superuser for the tests that check what ad hoc SQL refuses: many notebooks connect as one.
AA_PG_SUPER_ROLE="aa_test_super"
AA_PG_SUPER_PASSWORD="aa_test_super"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"
    else return 1
    fi
}

ensure_venv() {
    local python="${PYTHON:-python3}"
    command -v "$python" >/dev/null || die "python3 is needed (3.11 or newer)"
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "Python 3.11 or newer is needed; found $("$python" --version)"
    if [ ! -x "$AA_VENV/bin/python" ]; then
        say "creating the virtual environment in .venv"
        "$python" -m venv "$AA_VENV"
    fi
    local stamp="$AA_VENV/.aa-installed" want
    want="$(sha256sum "$AA_ROOT/pyproject.toml" | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        say "installing aa-notebooks and its dependencies into .venv"
        "$AA_VENV/bin/python" -m pip install --quiet --upgrade pip
        "$AA_VENV/bin/python" -m pip install --quiet -e "$AA_ROOT[dev]"
        echo "$want" > "$stamp"
    fi
    export PATH="$AA_VENV/bin:$PATH"
}

_pg_cluster() {  # prints "VERSION NAME STATUS" of the first cluster
    pg_lsclusters --no-header 2>/dev/null | awk 'NR==1 {print $1, $2, $4}'
}

ensure_postgres() {
    if [ -n "${AA_TEST_POSTGRES_URL:-}" ]; then return; fi
    if ! command -v pg_lsclusters >/dev/null; then
        say "installing PostgreSQL"
        as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq postgresql >/dev/null \
            || { _pg_unavailable "PostgreSQL is not installed and cannot be installed"; return; }
    fi
    local version name status
    read -r version name status <<<"$(_pg_cluster)"
    [ -n "${version:-}" ] || { _pg_unavailable "no PostgreSQL cluster found"; return; }
    if [ "$status" != "online" ]; then
        say "starting PostgreSQL $version/$name"
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$name" start \
            || { _pg_unavailable "cannot start PostgreSQL (needs root)"; return; }
    fi
    as_root runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 >/dev/null <<SQL \
        || { _pg_unavailable "cannot create the test role (needs root)"; return; }
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$AA_PG_ROLE') THEN
    CREATE ROLE $AA_PG_ROLE LOGIN PASSWORD '$AA_PG_PASSWORD' CREATEDB;
  END IF;
END \$\$;
GRANT pg_signal_backend TO $AA_PG_ROLE;
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$AA_PG_SUPER_ROLE') THEN
    CREATE ROLE $AA_PG_SUPER_ROLE SUPERUSER LOGIN PASSWORD '$AA_PG_SUPER_PASSWORD';
  END IF;
END \$\$;
SELECT 'CREATE DATABASE $AA_PG_DB OWNER $AA_PG_ROLE'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$AA_PG_DB')\gexec
SQL
    local port
    port="$(pg_lsclusters --no-header | awk 'NR==1 {print $3}')"
    export AA_TEST_POSTGRES_URL="postgresql://$AA_PG_ROLE:$AA_PG_PASSWORD@127.0.0.1:$port/$AA_PG_DB"
    export AA_TEST_POSTGRES_SUPERUSER_URL="postgresql://$AA_PG_SUPER_ROLE:$AA_PG_SUPER_PASSWORD@127.0.0.1:$port/$AA_PG_DB"
}

_pg_unavailable() {
    if [ -n "${CI:-}" ]; then die "$1: CI must run the PostgreSQL tests"; fi
    say "warning: $1; the PostgreSQL tests will be skipped"
}

ensure_chromium() {
    if command -v chromium >/dev/null; then export AA_CHROMIUM="$(command -v chromium)"; return; fi
    say "installing Debian's chromium for the browser tests"
    if as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq chromium >/dev/null; then
        export AA_CHROMIUM="$(command -v chromium)"
    elif [ -n "${CI:-}" ]; then
        die "cannot install chromium: CI must run the browser tests"
    else
        say "warning: chromium is not installed; the browser tests will be skipped"
    fi
}
