#!/usr/bin/env bash
# A property-based client against the generated service: Schemathesis reads the service's
# own /openapi.json, generates thousands of requests from it (valid ones, invalid ones,
# stateful sequences through the document's links) and checks every answer against the
# document: no 5xx, no valid request refused, no invalid one accepted, status codes,
# content types and bodies as documented.
#
#   tests/interop/schemathesis.sh [MODEL] [EXAMPLES] [SEED]   # default every_type 200 1
#   PGURL=postgres://postgres@127.0.0.1:5432 MYURL=mysql://root@127.0.0.1:3306
#
# Not part of `cargo test`: it installs Schemathesis from PyPI into tests/interop/.tools on
# first use, and takes about two minutes per backend. Exit status: non-zero when any backend
# fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL="${1:-every_type}"
EXAMPLES="${2:-200}"
SEED="${3:-1}"
PGURL="${PGURL:-postgres://postgres@127.0.0.1:5432}"
MYURL="${MYURL:-mysql://root@127.0.0.1:3306}"
tools="$PWD/tests/interop/.tools"
if [ ! -x "$tools/st/bin/st" ]; then
  python3 -m venv "$tools/st"
  "$tools/st/bin/pip" install -q schemathesis
fi
cargo build -q --features postgres,mysql
DK="$PWD/target/debug/dieselkit"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/generated"
work="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
failures=0
port=18790
for backend in sqlite postgres mysql; do
  name="st-$MODEL-$backend"
  db="dk_st_${MODEL}_$$"
  case "$backend" in
    sqlite) url="$work/$name.db" ;;
    postgres) url="$PGURL/$db" ;;
    mysql) url="$MYURL/$db" ;;
  esac
  "$DK" -q new-project "$name" --from "examples/$MODEL.toml" --backend "$backend" --output "$work/$name" >/dev/null
  "$DK" -q migrate run --project-dir "$work/$name" --database-url "$url"
  cargo build -q --manifest-path "$work/$name/Cargo.toml"
  port=$((port + 1))
  DATABASE_URL="$url" PORT="$port" RUST_LOG=warn "$CARGO_TARGET_DIR/debug/$name" >"$work/$name.log" 2>&1 &
  pid=$!
  for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.2; done
  echo "== $backend ($MODEL, $EXAMPLES examples per operation, seed $SEED)"
  if "$tools/st/bin/st" run "http://127.0.0.1:$port/openapi.json" --checks all \
    --max-examples "$EXAMPLES" --seed "$SEED" --workers 1 --no-color >"$work/$name.st" 2>&1; then
    grep -E "generated|No issues" "$work/$name.st" | tail -2
  else
    cat "$work/$name.st"
    failures=$((failures + 1))
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  case "$backend" in
    postgres) psql -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" ;;
    mysql) mariadb -h 127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS $db" ;;
  esac
done
echo "$failures backend(s) failed"
[ "$failures" = 0 ]
