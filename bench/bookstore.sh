# Sourced by service.sh and latency.sh: fresh databases $DB and $PGBENCH_DB on $PGURL, the
# bookstore generated as project $1 into $work/bookstore, migrated, built in release and
# filled with $ROWS authors, and pgbench initialized (scale 10). Sets SERVICE to the binary.
prepare_bookstore() { # PROJECT-NAME
  # dieselkit only generates and migrates here; the debug build the tests use is enough.
  cargo build -q --all-features
  local dk="$PWD/target/debug/dieselkit"
  psql -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
  psql -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS $PGBENCH_DB WITH (FORCE)" -c "CREATE DATABASE $PGBENCH_DB"

  log "generating and building the bookstore (release)"
  "$dk" -q new-project "$1" --backend postgres --from examples/bookstore.toml \
    --output "$work/bookstore"
  "$dk" -q migrate run --project-dir "$work/bookstore" --database-url "$PGURL/$DB"
  CARGO_TARGET_DIR="$PWD/target/generated" cargo build -q --release --manifest-path "$work/bookstore/Cargo.toml"
  SERVICE="$PWD/target/generated/release/$1"
  psql -q "$PGURL/$DB" -c "INSERT INTO authors (name, bio, created_at, updated_at)
    SELECT 'author ' || i, 'bio of author ' || i, now(), now() FROM generate_series(1, $ROWS) AS i"
  psql -q "$PGURL/$DB" -c "VACUUM ANALYZE authors"
  log "initializing pgbench (scale 10)"
  pgbench -q -i -s 10 "$PGURL/$PGBENCH_DB" >/dev/null 2>&1
}
