#!/usr/bin/env bash
# Interoperability with diesel_cli: generates examples/every_type.toml and
# examples/bookstore.toml for every backend, then on a fresh database runs
# `diesel migration run`, `diesel migration redo --all`, and checks that
# `diesel print-schema` prints exactly the generated src/schema.rs, and that
# `dieselkit migrate status` reads the database diesel migrated.
#
#   tests/interop/diesel_cli.sh
#   PGURL=postgres://postgres@127.0.0.1:5432 MYURL=mysql://root@127.0.0.1:3306
#
# Not part of `cargo test`: it installs diesel_cli 2.3 (with postgres, mysql and bundled
# sqlite) into tests/interop/.tools on first use, which takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
PGURL="${PGURL:-postgres://postgres@127.0.0.1:5432}"
MYURL="${MYURL:-mysql://root@127.0.0.1:3306}"
tools="$PWD/tests/interop/.tools"
if [ ! -x "$tools/bin/diesel" ]; then
  cargo install diesel_cli --version '2.3.*' --locked --no-default-features \
    --features postgres,mysql,sqlite-bundled --root "$tools"
fi
export PATH="$tools/bin:$PATH"
cargo build -q --features postgres,mysql
DK="$PWD/target/debug/dieselkit"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0
for backend in sqlite postgres mysql; do
  for model in every_type bookstore; do
    name="$model-$backend"
    db="dk_interop_${model}_$$"
    case "$backend" in
      sqlite) url="$work/$name.db" ;;
      postgres) url="$PGURL/$db" ;;
      mysql) url="$MYURL/$db" ;;
    esac
    "$DK" -q new-project --from "examples/$model.toml" --backend "$backend" --output "$work/$name" >/dev/null
    # Chained with && so any failing step fails the project (errexit does not apply here).
    if (
      cd "$work/$name" &&
        { diesel database setup --database-url "$url" >/dev/null 2>&1 || true; } &&
        diesel migration run --database-url "$url" >/dev/null &&
        diesel migration redo --all --database-url "$url" >/dev/null &&
        diesel print-schema --database-url "$url" >"$work/$name.printed" &&
        diff -u src/schema.rs "$work/$name.printed" &&
        "$DK" migrate status --database-url "$url" >/dev/null 2>&1
    ); then
      echo "ok   $name: diesel migration run, redo --all, print-schema = src/schema.rs"
    else
      echo "FAIL $name"
      failures=$((failures + 1))
    fi
    (cd "$work/$name" && diesel database drop --database-url "$url" >/dev/null 2>&1) || true
  done
done

# A rebuild of a referenced table (widening authors.name) applied and reverted by
# `diesel migration run`/`revert` over rows: every book must survive (SQLite rebuilds switch
# foreign keys off around their own transaction; see README).
sql() {
  case "$1" in
    sqlite) sqlite3 "$2" "$3" ;;
    postgres) psql -qtA "$2" -c "$3" ;;
    mysql) mariadb -N -h 127.0.0.1 -P "${MYURL##*:}" -uroot "${2##*/}" -e "$3" ;;
  esac
}
for backend in sqlite postgres mysql; do
  name="rebuild-$backend"
  db="dk_interop_rebuild_$$"
  case "$backend" in
    sqlite) url="$work/$name.db" ;;
    postgres) url="$PGURL/$db" ;;
    mysql) url="$MYURL/$db" ;;
  esac
  "$DK" -q new-project --from examples/bookstore.toml --backend "$backend" --output "$work/$name" >/dev/null
  if (
    cd "$work/$name" &&
      { diesel database setup --database-url "$url" >/dev/null 2>&1 || true; } &&
      diesel migration run --database-url "$url" >/dev/null &&
      sql "$backend" "$url" "INSERT INTO authors (name) VALUES ('Le Guin')" &&
      sql "$backend" "$url" "INSERT INTO books (title, isbn, author_id) SELECT 'Earthsea', '9780547773742', MIN(id) FROM authors" &&
      sed -i 's/name:string(100)/name:string(150)/' dieselkit.toml &&
      "$DK" -q generate migration -m widen --database-url "$url" >/dev/null &&
      diesel migration run --database-url "$url" >/dev/null &&
      [ "$(sql "$backend" "$url" "SELECT COUNT(*) FROM books")" = 1 ] &&
      diesel migration revert --database-url "$url" >/dev/null &&
      [ "$(sql "$backend" "$url" "SELECT COUNT(*) FROM books")" = 1 ] &&
      diesel migration run --database-url "$url" >/dev/null &&
      [ "$(sql "$backend" "$url" "SELECT COUNT(*) FROM books")" = 1 ]
  ); then
    echo "ok   $name: diesel migration run/revert/run of a parent rebuild keeps every book"
  else
    echo "FAIL $name"
    failures=$((failures + 1))
  fi
  (cd "$work/$name" && diesel database drop --database-url "$url" >/dev/null 2>&1) || true
done
[ "$failures" = 0 ]
