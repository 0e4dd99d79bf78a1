//! The migration engine, written once for every backend: a [`Db`] is a connection that
//! can execute SQL, answer text queries, lock, and drive diesel_migrations'
//! `MigrationHarness` with our [`Runnable`] migrations (which run statement by statement,
//! so a failure names its statement, and record checksums in the same transaction).

use super::ledger;
use super::source::MigrationFile;
use super::split;
use crate::error::{Error, Result};
use crate::spec::Backend;
use diesel::backend::Backend as DieselBackend;
use diesel::connection::BoxableConnection;
use diesel::migration::{Migration, MigrationMetadata, MigrationName, MigrationVersion};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

#[derive(diesel::QueryableByName)]
pub struct Line {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub line: String,
}

#[derive(diesel::QueryableByName)]
pub struct Pair {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub a: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub b: Option<String>,
}

/// What the engine needs from a connection. Implemented for each diesel connection type
/// in `mod.rs`.
pub trait Db {
    type B: DieselBackend;
    fn backend(&self) -> Backend;
    fn exec(&mut self, sql: &str) -> diesel::QueryResult<()>;
    fn lines(&mut self, sql: &str) -> diesel::QueryResult<Vec<String>>;
    /// Rows of `sql` as typed rows, columns read by name (catalog queries).
    fn load<R: diesel::QueryableByName<Self::B> + 'static>(
        &mut self,
        sql: &str,
    ) -> diesel::QueryResult<Vec<R>>;
    fn pairs(&mut self, sql: &str) -> diesel::QueryResult<Vec<(String, Option<String>)>>;
    fn run_migration(&mut self, m: &dyn Migration<Self::B>) -> diesel::migration::Result<()>;
    fn revert_migration(&mut self, m: &dyn Migration<Self::B>) -> diesel::migration::Result<()>;
    /// Run `step` holding the per-step lock (SQLite: an exclusive transaction; elsewhere the
    /// session lock is already held and this just runs it).
    fn locked_step<T>(&mut self, step: &mut dyn FnMut(&mut Self) -> Result<T>) -> Result<T>;
    /// Set how long SQLite waits for a locked database, in milliseconds.
    fn set_busy_timeout(&mut self, _ms: u64) -> diesel::QueryResult<()> {
        Ok(())
    }
}

struct Name {
    name: String,
    version: MigrationVersion<'static>,
}

impl MigrationName for Name {
    fn version(&self) -> MigrationVersion<'_> {
        self.version.as_owned()
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

struct Meta(bool);

impl MigrationMetadata for Meta {
    fn run_in_transaction(&self) -> bool {
        self.0
    }
}

/// The statement that failed, for the error message.
#[derive(Debug, Clone)]
struct StatementFailure {
    file: &'static str,
    line: usize,
    sql: String,
    message: String,
}

/// A migration file made runnable by diesel's harness.
struct Runnable<'a> {
    file: &'a MigrationFile,
    name: Name,
    meta: Meta,
    backend: Backend,
    /// Run only the statements inside the file's own transaction (SQLite rebuilds with
    /// foreign keys off): the caller switched foreign keys off and holds the transaction.
    body_only: bool,
    /// PostgreSQL/MySQL: how long a statement may wait for a lock.
    ddl_lock_timeout: Option<Duration>,
    /// PostgreSQL: how long to wait for [`ledger::PG_MIGRATION_KEY`].
    lock_wait: Duration,
    failure: RefCell<Option<StatementFailure>>,
}

impl<'a> Runnable<'a> {
    fn new(file: &'a MigrationFile, backend: Backend, body_only: bool) -> Self {
        Runnable {
            file,
            name: Name {
                name: file.name.clone(),
                version: MigrationVersion::from(file.version.clone()),
            },
            meta: Meta(file.run_in_transaction),
            backend,
            body_only,
            ddl_lock_timeout: None,
            lock_wait: Duration::from_secs(60),
            failure: RefCell::new(None),
        }
    }

    fn execute<DB: DieselBackend>(
        &self,
        conn: &mut dyn BoxableConnection<DB>,
        file: &'static str,
        sql: &str,
    ) -> diesel::migration::Result<()> {
        let dialect = crate::dialect::of(self.backend);
        let in_transaction = self.file.run_in_transaction;
        let preamble: Vec<String> = dialect
            .migration_preamble(in_transaction, self.lock_wait)
            .into_iter()
            .chain(
                self.ddl_lock_timeout
                    .and_then(|timeout| dialect.lock_wait_setting(timeout, in_transaction)),
            )
            .collect();
        // Sent with the first statement: one round trip less per migration. (Only
        // transactional PostgreSQL migrations and MySQL have one, so a statement that cannot
        // share a message, like CREATE INDEX CONCURRENTLY, never gets it.)
        let mut preamble = (!preamble.is_empty()).then(|| preamble.join("; "));
        let statements = match self.body_only {
            true => split::foreign_keys_off_body(sql).unwrap_or_else(|| split::split(sql)),
            false => split::split(sql),
        };
        for statement in statements {
            let sent = match preamble.take() {
                Some(p) => format!("{p}; {}", statement.sql),
                None => statement.sql.clone(),
            };
            if let Err(e) = conn.batch_execute(&sent) {
                *self.failure.borrow_mut() = Some(StatementFailure {
                    file,
                    line: statement.line,
                    sql: statement.sql.clone(),
                    message: e.to_string(),
                });
                return Err(Box::new(e));
            }
        }
        if let Some(p) = preamble {
            conn.batch_execute(&p)?;
        }
        Ok(())
    }
}

impl Runnable<'_> {
    fn with_lock_timeout(mut self, timeout: Duration, lock_wait: Duration) -> Self {
        self.ddl_lock_timeout = Some(timeout);
        self.lock_wait = lock_wait;
        self
    }

    /// Did the migration give up waiting for a lock, before changing anything that a
    /// retry would trip over? (MySQL commits each DDL statement, so only a failure at its
    /// first statement qualifies there.)
    fn gave_up_on_a_lock(&self) -> bool {
        let failure = self.failure.borrow();
        let Some(f) = failure.as_ref() else {
            return false;
        };
        let dialect = crate::dialect::of(self.backend);
        let timed_out = dialect.is_lock_timeout(&f.message);
        let sql = match f.file {
            "down.sql" => self.file.down.as_deref().unwrap_or_default(),
            _ => &self.file.up,
        };
        let first = split::split(sql).first().is_some_and(|s| s.line == f.line);
        timed_out && (dialect.transactional_ddl() || first)
    }

    /// The table the failing statement works on, if it names one.
    fn failing_table(&self) -> Option<String> {
        let failure = self.failure.borrow();
        statement_table(&failure.as_ref()?.sql)
    }
}

/// The table a statement works on (`ALTER TABLE t`, `CREATE INDEX i ON t`, `DROP TABLE t`,
/// `UPDATE t`, `INSERT INTO t`, `DELETE FROM t`).
pub fn statement_table(sql: &str) -> Option<String> {
    let words: Vec<&str> = split::without_leading_comments(sql)
        .split(|c: char| c.is_whitespace() || c == '(')
        .filter(|w| !w.is_empty())
        .collect();
    let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    let after = |key: &str| -> Option<String> {
        let mut i = upper.iter().position(|w| w == key)? + 1;
        while upper
            .get(i)
            .is_some_and(|w| ["IF", "EXISTS", "NOT", "ONLY", "CONCURRENTLY"].contains(&w.as_str()))
        {
            i += 1;
        }
        words
            .get(i)
            .map(|w| w.trim_matches(['"', '`', ';']).to_string())
    };
    match upper.first().map(String::as_str) {
        Some("ALTER" | "DROP" | "TRUNCATE") => after("TABLE"),
        Some("CREATE") if upper.iter().any(|w| w == "TABLE") => after("TABLE"),
        Some("CREATE") if upper.iter().any(|w| w == "INDEX") => after("ON"),
        Some("UPDATE") => words.get(1).map(|w| w.to_string()),
        Some("INSERT") => after("INTO"),
        Some("DELETE") => after("FROM"),
        _ => None,
    }
}

/// Pauses before retrying a migration that gave up waiting for a lock.
pub const RETRY_AFTER: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(2)];

/// Who holds locks on `table` (PostgreSQL), described for the error message.
fn lock_holders<D: Db>(db: &mut D, table: &str) -> Vec<String> {
    crate::dialect::of(db.backend())
        .lock_holders_query(table)
        .and_then(|query| db.lines(&query).ok())
        .unwrap_or_default()
}

/// Run (`up`) or revert `file`, retrying after [`RETRY_AFTER`] when it gives up waiting
/// for a table lock; the final failure names the table and who holds locks on it.
fn apply_with_retries<D: Db>(
    db: &mut D,
    file: &MigrationFile,
    up: bool,
    foreign_keys_off: bool,
    ddl_lock_timeout: Duration,
    lock_wait: Duration,
) -> Result<()> {
    let direction = if up { "up" } else { "down" };
    let mut attempt = 0;
    loop {
        let r = Runnable::new(file, db.backend(), foreign_keys_off)
            .with_lock_timeout(ddl_lock_timeout, lock_wait);
        let result = if up {
            db.run_migration(&r)
        } else {
            db.revert_migration(&r)
        };
        let result = match foreign_keys_off {
            true => checked(db, &r, direction, result),
            false => result.map_err(|e| failure_error(&r, direction, e)),
        };
        match result {
            Err(_) if r.gave_up_on_a_lock() && attempt < RETRY_AFTER.len() => {
                std::thread::sleep(RETRY_AFTER[attempt]);
                attempt += 1;
            }
            Err(Error::MigrationFailed {
                name,
                file: path,
                message,
            }) if r.gave_up_on_a_lock() => {
                let table = r.failing_table().unwrap_or_else(|| "?".into());
                let holders = lock_holders(db, &table);
                return Err(Error::MigrationFailed {
                    name,
                    file: path,
                    message: format!(
                        "{message}. It waited {}s for a lock on `{table}`, {} times: {}. Run it again when that is done (or end it), or allow a longer wait with `--ddl-lock-timeout SECS`",
                        ddl_lock_timeout.as_secs(),
                        attempt + 1,
                        if holders.is_empty() {
                            "another session holds one".to_string()
                        } else {
                            holders.join("; ")
                        }
                    ),
                });
            }
            other => return other,
        }
    }
}

impl<DB: DieselBackend> Migration<DB> for Runnable<'_> {
    fn run(&self, conn: &mut dyn BoxableConnection<DB>) -> diesel::migration::Result<()> {
        self.execute(conn, "up.sql", &self.file.up)?;
        // One round trip.
        conn.batch_execute(&ledger::record(self.file, self.backend).join("; "))?;
        Ok(())
    }

    fn revert(&self, conn: &mut dyn BoxableConnection<DB>) -> diesel::migration::Result<()> {
        let Some(down) = &self.file.down else {
            return Err(Box::new(
                diesel_migrations::MigrationError::NoMigrationRevertFile,
            ));
        };
        self.execute(conn, "down.sql", down)?;
        conn.batch_execute(&ledger::forget(&self.file.version, self.backend))?;
        Ok(())
    }

    fn metadata(&self) -> &dyn MigrationMetadata {
        &self.meta
    }

    fn name(&self) -> &dyn MigrationName {
        &self.name
    }
}

fn failure_error(r: &Runnable<'_>, direction: &'static str, e: impl fmt::Display) -> Error {
    // A body run with foreign keys off runs in the caller's transaction (SQLite).
    let in_transaction = r.file.run_in_transaction || r.body_only;
    let rollback = match (in_transaction, crate::dialect::of(r.backend).transactional_ddl()) {
        (false, _) => "this migration runs outside a transaction (metadata.toml), so statements before the failing one were applied; its version is not recorded",
        (true, false) => "MySQL commits schema changes immediately, so statements before the failing one were applied; its version is not recorded",
        (true, true) => "the migration was rolled back and its version is not recorded",
    };
    match r.failure.borrow().clone() {
        Some(f) => {
            let code = split::without_leading_comments(&f.sql);
            let mut sql: String = code
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(120)
                .collect();
            if code.lines().count() > 1 || code.chars().count() > 120 {
                sql.push_str(" ...");
            }
            Error::MigrationFailed {
                name: r.file.name.clone(),
                file: r.file.dir.join(f.file),
                message: format!("line {}: `{sql}`: {}; {rollback}", f.line, f.message),
            }
        }
        None => {
            let text = e.to_string();
            let message = match text.split_once(" with: ") {
                Some((prefix, rest)) if prefix.starts_with("Failed to") => rest.to_string(),
                _ => text,
            };
            Error::MigrationFailed {
                name: r.file.name.clone(),
                file: r.file.dir.join(if direction == "up" {
                    "up.sql"
                } else {
                    "down.sql"
                }),
                message: format!("{message}; {rollback}"),
            }
        }
    }
}

/// What the database says is applied, read without creating anything.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// version → run_on
    pub versions: BTreeMap<String, Option<String>>,
    /// version → recorded checksum of up.sql's code
    pub checksums: BTreeMap<String, String>,
    /// version → recorded checksum of up.sql's text (none for rows recorded by 0.1, whose
    /// `checksum` was the text's)
    pub text_checksums: BTreeMap<String, String>,
}

/// Has applied migration `f` changed since it was applied? Without `strict`, only a change
/// to its code counts (comments and whitespace do not); with it, any change to its text.
pub fn was_edited(f: &MigrationFile, applied: &Applied, strict: bool) -> bool {
    let Some(sum) = applied.checksums.get(&f.version) else {
        return false;
    };
    // A squash baseline on a database that applied the migration whose version it took.
    if f.squash_checksums.contains(sum) {
        return false;
    }
    match (strict, applied.text_checksums.get(&f.version)) {
        (true, Some(text)) => *text != f.text_checksum,
        // Recorded by 0.1, whose checksum was the text's.
        (_, None) => *sum != f.text_checksum && *sum != f.checksum,
        (false, Some(_)) => *sum != f.checksum,
    }
}

fn column_exists<D: Db>(db: &mut D, table: &str, column: &str) -> Result<bool> {
    Ok(!db
        .lines(&ledger::column_exists_query(table, column, db.backend()))?
        .is_empty())
}

fn table_exists<D: Db>(db: &mut D, name: &str) -> Result<bool> {
    Ok(!db
        .lines(&ledger::table_exists_query(name, db.backend()))?
        .is_empty())
}

pub fn read_applied<D: Db>(db: &mut D) -> Result<Applied> {
    let mut applied = Applied::default();
    if table_exists(db, ledger::DIESEL_TABLE)? {
        for (v, run_on) in db.pairs(&ledger::applied_query(db.backend()))? {
            applied.versions.insert(v, run_on);
        }
    }
    if table_exists(db, ledger::SIDE_TABLE)? {
        for (v, sum) in db.pairs(&ledger::checksums_query("checksum", db.backend()))? {
            applied.checksums.insert(v, sum.unwrap_or_default());
        }
        if column_exists(db, ledger::SIDE_TABLE, ledger::TEXT_CHECKSUM)? {
            let query = ledger::checksums_query(ledger::TEXT_CHECKSUM, db.backend());
            for (v, sum) in db.pairs(&query)? {
                if let Some(sum) = sum {
                    applied.text_checksums.insert(v, sum);
                }
            }
        }
    }
    Ok(applied)
}

fn ensure_tables<D: Db>(db: &mut D) -> Result<()> {
    db.exec(&ledger::create_diesel_table())?;
    let backend = db.backend();
    db.exec(&ledger::create_side_table(backend))?;
    if !column_exists(db, ledger::SIDE_TABLE, ledger::TEXT_CHECKSUM)? {
        db.exec(&ledger::add_text_checksum_column())?;
    }
    Ok(())
}

/// Options every locking command shares.
pub struct LockOptions<'a> {
    pub timeout: Duration,
    /// Compare applied migrations' whole text, not just their code.
    pub strict: bool,
    /// The caller already holds the migration lock (PostgreSQL: on its own connection).
    pub held: bool,
    /// How long one statement may wait for a table lock before the migration gives up
    /// (and is retried, see [`RETRY_AFTER`]).
    pub ddl_lock_timeout: Duration,
    /// No other process can reach the database (an in-memory scratch database), so what is
    /// applied need not be read again before each step.
    pub private: bool,
    pub on_wait: &'a mut dyn FnMut(),
}

/// Take the session lock (PostgreSQL, MySQL), waiting up to the timeout.
pub fn lock<D: Db>(db: &mut D, opts: &mut LockOptions<'_>) -> Result<()> {
    if opts.held {
        return Ok(());
    }
    let backend = db.backend();
    let Some(query) = ledger::try_lock_query(backend) else {
        // SQLite locks the database file: probe once without waiting so a waiting process
        // can say so, then let every statement wait up to the timeout.
        db.set_busy_timeout(0)?;
        match db.exec("BEGIN EXCLUSIVE") {
            Ok(()) => db.exec("COMMIT")?,
            Err(e) if e.to_string().contains("locked") => (opts.on_wait)(),
            Err(e) => return Err(e.into()),
        }
        db.set_busy_timeout(opts.timeout.as_millis() as u64)?;
        return Ok(());
    };
    let start = Instant::now();
    let mut told = false;
    loop {
        if db.lines(&query)?.first().map(String::as_str) == Some("yes") {
            return Ok(());
        }
        if !told {
            (opts.on_wait)();
            told = true;
        }
        if start.elapsed() >= opts.timeout {
            return Err(Error::Migration(format!(
                "timed out after {}s waiting for the migration lock; another `dieselkit migrate` is running against this database (raise the wait with `--lock-timeout`)",
                opts.timeout.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Release the session lock [`lock`] took, checking that it was held; `result` is what
/// ran under it, and wins over an unlock failure.
pub fn unlock<D: Db, T>(db: &mut D, opts: &LockOptions<'_>, result: Result<T>) -> Result<T> {
    if opts.held {
        return result;
    }
    let Some(query) = ledger::checked_unlock_query(db.backend()) else {
        return result;
    };
    let released = db.lines(&query).map_err(Error::from).and_then(|r| {
        match r.first().map(String::as_str) {
            Some("yes") => Ok(()),
            _ => Err(Error::Migration(
                "the migration lock was not held by this session when it was released (a connection pooler between dieselkit and the database?); use a direct connection: set MIGRATION_DATABASE_URL".into(),
            )),
        }
    });
    match (result, released) {
        (Ok(v), Ok(())) => Ok(v),
        (Err(e), _) | (Ok(_), Err(e)) => Err(e),
    }
}

/// One step under the lock (on SQLite, an exclusive transaction).
fn step<D: Db, T>(
    db: &mut D,
    _opts: &mut LockOptions<'_>,
    f: &mut dyn FnMut(&mut D) -> Result<T>,
) -> Result<T> {
    db.locked_step(f)
}

/// Applied migrations whose up.sql changed since they were applied (see [`was_edited`]).
pub fn edited<'a>(
    files: &'a [MigrationFile],
    applied: &Applied,
    strict: bool,
) -> Vec<&'a MigrationFile> {
    files
        .iter()
        .filter(|f| applied.versions.contains_key(&f.version))
        .filter(|f| was_edited(f, applied, strict))
        .collect()
}

/// What to say about one edited migration: its file and the command that accepts it.
pub fn edited_advice(migration_dir: &std::path::Path, version: &str) -> String {
    format!(
        "`{}` changed after it was applied; restore it, or, if the change is intended and the database already reflects it, accept it with `dieselkit migrate stamp {version}`",
        migration_dir.join("up.sql").display(),
    )
}

pub fn edited_error(files: &[&MigrationFile]) -> Error {
    let lines: Vec<String> = files
        .iter()
        .map(|f| edited_advice(&f.dir, &f.version))
        .collect();
    Error::Migration(format!(
        "{} applied migration(s) changed after they were applied, so nothing was run:\n  - {}",
        files.len(),
        lines.join("\n  - ")
    ))
}

/// The migrations `applied` does not record, in version order.
pub fn pending<'a>(files: &'a [MigrationFile], applied: &Applied) -> Vec<&'a MigrationFile> {
    files
        .iter()
        .filter(|f| !applied.versions.contains_key(&f.version))
        .collect()
}

/// The newest applied migration: its directory name, or its version when the directory is
/// gone.
pub fn newest_applied(files: &[MigrationFile], applied: &Applied) -> Option<String> {
    let newest = applied.versions.keys().max()?;
    Some(
        files
            .iter()
            .find(|f| f.version == *newest)
            .map_or_else(|| newest.clone(), |f| f.name.clone()),
    )
}

/// Pending migrations older than the newest applied one (arrived from a merged branch).
pub fn out_of_order(files: &[MigrationFile], applied: &Applied) -> Vec<String> {
    let Some(newest) = applied.versions.keys().max() else {
        return vec![];
    };
    files
        .iter()
        .filter(|f| !applied.versions.contains_key(&f.version) && f.version < *newest)
        .map(|f| f.name.clone())
        .collect()
}

/// Two migrations dieselkit generated after the same one, each without the other (written
/// on two branches, then merged), whose changes overlap (`overlap`: the columns or tables).
#[derive(Debug, PartialEq, Eq)]
pub struct Collision<'a> {
    pub earlier: &'a MigrationFile,
    pub later: &'a MigrationFile,
    /// The version both were generated after (empty: the first migrations).
    pub parent: String,
    pub overlap: Vec<String>,
}

/// Every [`Collision`] among `files` (sorted by version), earlier first. Migrations without
/// a recorded lineage (hand-written ones) take no part.
pub fn collisions(files: &[MigrationFile]) -> Vec<Collision<'_>> {
    let mut out = Vec::new();
    for (i, earlier) in files.iter().enumerate() {
        let Some(a) = &earlier.lineage else { continue };
        for later in &files[i + 1..] {
            let Some(b) = &later.lineage else { continue };
            if a.parent != b.parent {
                continue;
            }
            let overlap = a.overlap(b);
            if !overlap.is_empty() {
                out.push(Collision {
                    earlier,
                    later,
                    parent: a.parent.clone(),
                    overlap,
                });
            }
        }
    }
    out
}

/// Applied versions with no directory.
pub fn missing(files: &[MigrationFile], applied: &Applied) -> Vec<String> {
    applied
        .versions
        .keys()
        .filter(|v| {
            !files
                .iter()
                .any(|f| f.version == **v || f.squash_replaces.contains(v))
        })
        .cloned()
        .collect()
}

/// Pending squash baselines on a database that applied some, but not all, of the
/// migrations they replace: the baseline would create what exists already. Each with the
/// replaced versions the database lacks.
pub fn partly_squashed<'a>(
    files: &'a [MigrationFile],
    applied: &Applied,
) -> Vec<(&'a MigrationFile, Vec<String>)> {
    pending(files, applied)
        .into_iter()
        .filter(|f| {
            f.squash_replaces
                .iter()
                .any(|v| applied.versions.contains_key(v))
        })
        .map(|f| {
            let lacking = f
                .squash_replaces
                .iter()
                .filter(|v| !applied.versions.contains_key(*v))
                .cloned()
                .collect();
            (f, lacking)
        })
        .collect()
}

/// What one locked step did.
enum Next {
    /// Applied or reverted this migration.
    Did(String),
    /// Nothing left to do.
    Finished,
    /// The next migration needs SQLite's foreign keys switched (off: true), which only
    /// works outside a transaction; nothing was done.
    ForeignKeys(bool),
    /// SQLite: the next migration says `run_in_transaction = false` (VACUUM, say), so it
    /// cannot run in the step's exclusive transaction; nothing was done.
    OutsideTransaction,
    /// Asked to run outside a transaction, the next migration turned out not to need it
    /// (another process moved on meanwhile); nothing was done.
    Again,
}

/// How the next step runs.
#[derive(Debug, Clone, Copy, Default)]
struct Mode {
    /// SQLite's foreign keys are off.
    fk_off: bool,
    /// Not in the step's exclusive transaction (SQLite; see [`Next::OutsideTransaction`]).
    outside: bool,
}

/// One step of a run or revert: given what was done so far and the mode, do the next
/// migration.
type NextStep<'a, D> = dyn FnMut(&mut D, &[String], Mode) -> Result<Next> + 'a;

/// What the step should do with `file` (whose `sql` runs in this direction) in `mode`:
/// `None` to go ahead, or the [`Next`] to return instead.
fn placement(
    file: &MigrationFile,
    sql: Option<&str>,
    backend: Backend,
    mode: Mode,
) -> Option<Next> {
    let off = foreign_keys_off(sql, backend);
    let outside = crate::dialect::of(backend).locks_each_step() && !file.run_in_transaction && !off;
    match (outside, mode.outside) {
        (true, false) => Some(Next::OutsideTransaction),
        (false, true) => Some(Next::Again),
        _ if off != mode.fk_off => Some(Next::ForeignKeys(off)),
        _ => None,
    }
}

/// Does `sql` switch foreign keys off around its own transaction on this backend?
fn foreign_keys_off(sql: Option<&str>, backend: Backend) -> bool {
    crate::dialect::of(backend).switches_foreign_keys()
        && sql.is_some_and(|s| split::foreign_keys_off_body(s).is_some())
}

/// Rows that reference a missing row (SQLite's `foreign_key_check`), described.
fn dangling_references<D: Db>(db: &mut D) -> Result<Vec<String>> {
    Ok(db.lines(
        "SELECT '`' || c.\"table\" || '` row ' || COALESCE(c.rowid, '?') || ': `' || f.\"from\" || '` references `' || c.parent || '`, which has no such row' AS line \
         FROM pragma_foreign_key_check AS c JOIN pragma_foreign_key_list(c.\"table\") AS f ON f.id = c.fkid LIMIT 10",
    )?)
}

/// Run `r` (which switched foreign keys off) and check every reference before the
/// transaction commits, as SQLite's rebuild procedure requires.
fn checked<D: Db>(
    db: &mut D,
    r: &Runnable<'_>,
    direction: &'static str,
    result: diesel::migration::Result<()>,
) -> Result<()> {
    let dangling = dangling_references(db)?;
    if !dangling.is_empty() {
        return Err(Error::MigrationFailed {
            name: r.file.name.clone(),
            file: r.file.dir.join(if direction == "up" { "up.sql" } else { "down.sql" }),
            message: format!(
                "it would leave rows referencing missing rows ({}); the migration was rolled back and its version is not recorded",
                dangling.join("; ")
            ),
        });
    }
    result.map_err(|e| failure_error(r, direction, e))
}

/// Under the session lock, run `next` one locked step at a time until it returns None;
/// the names it returns are collected. `next` also sees what was done so far.
fn steps_under_lock<D: Db>(
    db: &mut D,
    opts: &mut LockOptions<'_>,
    prepare: bool,
    next: &mut NextStep<'_, D>,
) -> Result<Vec<String>> {
    lock(db, opts)?;
    let fk_off = &mut false;
    let result = (|| {
        if prepare {
            ensure_tables(db)?;
        }
        let mut done: Vec<String> = Vec::new();
        loop {
            let mode = Mode {
                fk_off: *fk_off,
                outside: false,
            };
            match step(db, opts, &mut |db: &mut D| next(db, &done, mode))? {
                Next::Did(name) => done.push(name),
                Next::Finished => return Ok(done),
                Next::Again => {}
                // Outside the exclusive transaction: it re-reads what is applied first, but
                // another process could apply the same migration in between (SQLite has no
                // lock outside a transaction); diesel's own runner has the same window.
                Next::OutsideTransaction => {
                    // Such a migration wants foreign keys as usual (on).
                    if *fk_off {
                        db.exec(crate::sql::SQLITE_FOREIGN_KEYS_ON)?;
                        *fk_off = false;
                    }
                    let mode = Mode {
                        fk_off: false,
                        outside: true,
                    };
                    if let Next::Did(name) = next(db, &done, mode)? {
                        done.push(name);
                    }
                }
                Next::ForeignKeys(off) => {
                    db.exec(if off {
                        crate::sql::SQLITE_FOREIGN_KEYS_OFF
                    } else {
                        crate::sql::SQLITE_FOREIGN_KEYS_ON
                    })?;
                    *fk_off = off;
                }
            }
        }
    })();
    if *fk_off {
        let restored = db.exec(crate::sql::SQLITE_FOREIGN_KEYS_ON);
        if result.is_ok() {
            restored?;
        }
    }
    unlock(db, opts, result)
}

/// Apply pending migrations in order (up to `target`), one locked step at a time.
pub fn run<D: Db>(
    db: &mut D,
    files: &[MigrationFile],
    target: Option<&str>,
    number: Option<usize>,
    opts: &mut LockOptions<'_>,
    on_apply: &mut dyn FnMut(&str),
) -> Result<Vec<String>> {
    let opts_strict = opts.strict;
    let private = opts.private;
    let (ddl_lock_timeout, lock_wait) = (opts.ddl_lock_timeout, opts.timeout);
    let mut known: Option<Applied> = None;
    steps_under_lock(
        db,
        opts,
        true,
        &mut |db: &mut D, done: &[String], mode: Mode| {
            if number.is_some_and(|n| done.len() >= n) {
                return Ok(Next::Finished);
            }
            // PostgreSQL and MySQL hold one lock for the whole run, so what is applied is
            // read once and then kept up to date here; SQLite locks each step, so each step
            // reads it again (unless no other process can reach the database).
            let per_step = crate::dialect::of(db.backend()).locks_each_step() && !private;
            let applied = match &mut known {
                Some(known) if !per_step => {
                    for name in done {
                        if let Some(f) = files.iter().find(|f| f.name == *name) {
                            known.versions.entry(f.version.clone()).or_insert(None);
                        }
                    }
                    known.clone()
                }
                slot => {
                    let fresh = read_applied(db)?;
                    *slot = Some(fresh.clone());
                    fresh
                }
            };
            let edits = edited(files, &applied, opts_strict);
            if !edits.is_empty() {
                return Err(edited_error(&edits));
            }
            let Some(file) = files
                .iter()
                .filter(|f| target.is_none_or(|t| f.version.as_str() <= t))
                .find(|f| !applied.versions.contains_key(&f.version))
            else {
                return Ok(Next::Finished);
            };
            if let Some(other) = placement(file, Some(&file.up), db.backend(), mode) {
                return Ok(other);
            }
            let off = mode.fk_off;
            on_apply(&file.name);
            apply_with_retries(db, file, true, off, ddl_lock_timeout, lock_wait)?;
            Ok(Next::Did(file.name.clone()))
        },
    )
}

/// Revert applied migrations newest first, as far as `limit` says.
pub fn revert<D: Db>(
    db: &mut D,
    files: &[MigrationFile],
    limit: RevertLimit<'_>,
    opts: &mut LockOptions<'_>,
    on_revert: &mut dyn FnMut(&str),
) -> Result<Vec<String>> {
    let (ddl_lock_timeout, lock_wait) = (opts.ddl_lock_timeout, opts.timeout);
    steps_under_lock(
        db,
        opts,
        false,
        &mut |db: &mut D, done: &[String], mode: Mode| {
            let applied = read_applied(db)?;
            let Some(newest) = applied.versions.keys().max().cloned() else {
                return Ok(Next::Finished);
            };
            let stop = match limit {
                RevertLimit::Count(n) => done.len() >= n,
                RevertLimit::All => false,
                RevertLimit::To(v) => newest.as_str() <= v,
            };
            if stop {
                return Ok(Next::Finished);
            }
            let Some(file) = files.iter().find(|f| f.version == newest) else {
                return Err(Error::Migration(format!(
                "the most recently applied migration (version {newest}) has no directory in the migrations folder; restore it to revert past it"
            )));
            };
            if let Some(other) = placement(file, file.down.as_deref(), db.backend(), mode) {
                return Ok(other);
            }
            let off = mode.fk_off;
            on_revert(&file.name);
            apply_with_retries(db, file, false, off, ddl_lock_timeout, lock_wait)?;
            Ok(Next::Did(file.name.clone()))
        },
    )
}

#[derive(Debug, Clone, Copy)]
pub enum RevertLimit<'a> {
    Count(usize),
    All,
    /// Revert everything newer than this version.
    To(&'a str),
}

/// Mark migrations up to `target` as applied without running them; an applied migration
/// gets its checksum re-recorded (accepting an edit).
pub fn stamp<D: Db>(
    db: &mut D,
    files: &[MigrationFile],
    target: &str,
    opts: &mut LockOptions<'_>,
    on_stamp: &mut dyn FnMut(&str, bool),
) -> Result<usize> {
    lock(db, opts)?;
    let result = (|| {
        ensure_tables(db)?;
        step(db, opts, &mut |db: &mut D| {
            let applied = read_applied(db)?;
            let backend = db.backend();
            let mut count = 0;
            for f in files.iter().filter(|f| f.version.as_str() <= target) {
                let was_applied = applied.versions.contains_key(&f.version);
                if was_applied
                    && applied.checksums.get(&f.version) == Some(&f.checksum)
                    && applied.text_checksums.get(&f.version) == Some(&f.text_checksum)
                {
                    continue;
                }
                if !was_applied {
                    db.exec(&ledger::diesel_insert(&f.version, backend))?;
                }
                for s in ledger::record(f, backend) {
                    db.exec(&s)?;
                }
                on_stamp(&f.name, was_applied);
                count += 1;
            }
            Ok(count)
        })
    })();
    unlock(db, opts, result)
}

/// What `migrate run --sql` would execute, statement by statement. Reads the applied list
/// (if the bookkeeping table exists) and changes nothing.
pub fn preview_run(
    backend: Backend,
    files: &[MigrationFile],
    applied: &Applied,
    target: Option<&str>,
    tables_exist: bool,
) -> String {
    let mut out =
        format!("-- dieselkit migrate run --sql ({backend}): nothing below has been executed\n");
    out.push_str(&format!("{};\n", ledger::lock_preview(backend)));
    if !tables_exist {
        out.push_str(&format!(
            "{};\n{};\n",
            ledger::create_diesel_table(),
            ledger::create_side_table(backend)
        ));
    }
    let pending: Vec<&MigrationFile> = files
        .iter()
        .filter(|f| target.is_none_or(|t| f.version.as_str() <= t))
        .filter(|f| !applied.versions.contains_key(&f.version))
        .collect();
    if pending.is_empty() {
        out.push_str("-- no pending migrations\n");
    }
    for f in pending {
        let tx = preview_opening(&mut out, f, "up.sql");
        for s in split::split(&f.up) {
            out.push_str(&s.sql);
            out.push_str(";\n");
        }
        out.push_str(&format!(
            "{};\n",
            ledger::diesel_insert(&f.version, backend)
        ));
        for s in ledger::record(f, backend) {
            out.push_str(&format!("{s};\n"));
        }
        if tx {
            out.push_str("COMMIT;\n");
        }
    }
    if let Some(unlock) = ledger::unlock_statement(backend) {
        out.push_str(&format!("\n{unlock};\n"));
    }
    out
}

/// The preview's header for one migration and its transaction boundary; returns whether
/// the migration runs in a transaction (so the caller closes it).
fn preview_opening(out: &mut String, f: &MigrationFile, file: &str) -> bool {
    out.push_str(&format!(
        "\n-- migration {} ({})\n",
        f.name,
        f.dir.join(file).display()
    ));
    out.push_str(if f.run_in_transaction {
        "BEGIN;\n"
    } else {
        "-- run_in_transaction = false: no transaction\n"
    });
    f.run_in_transaction
}

pub fn preview_revert(
    backend: Backend,
    files: &[MigrationFile],
    applied: &Applied,
    limit: RevertLimit<'_>,
) -> String {
    let mut out =
        format!("-- dieselkit migrate revert --sql ({backend}): nothing below has been executed\n");
    out.push_str(&format!("{};\n", ledger::lock_preview(backend)));
    let mut versions: Vec<&String> = applied.versions.keys().collect();
    versions.reverse();
    let chosen: Vec<&String> = match limit {
        RevertLimit::Count(n) => versions.into_iter().take(n).collect(),
        RevertLimit::All => versions,
        RevertLimit::To(t) => versions.into_iter().filter(|v| v.as_str() > t).collect(),
    };
    if chosen.is_empty() {
        out.push_str("-- no applied migrations to revert\n");
    }
    for v in chosen {
        let Some(f) = files.iter().find(|f| f.version == *v) else {
            out.push_str(&format!(
                "-- version {v} has no directory: it cannot be reverted\n"
            ));
            break;
        };
        let tx = preview_opening(&mut out, f, "down.sql");
        match &f.down {
            Some(down) => {
                for s in split::split(down) {
                    out.push_str(&s.sql);
                    out.push_str(";\n");
                }
            }
            None => out.push_str("-- down.sql is missing: revert would fail here\n"),
        }
        out.push_str(&format!("{};\n", ledger::forget(&f.version, backend)));
        out.push_str(&format!(
            "{};\n",
            ledger::diesel_delete(&f.version, backend)
        ));
        if tx {
            out.push_str("COMMIT;\n");
        }
    }
    if let Some(unlock) = ledger::unlock_statement(backend) {
        out.push_str(&format!("\n{unlock};\n"));
    }
    out
}

pub fn tables_exist<D: Db>(db: &mut D) -> Result<bool> {
    table_exists(db, ledger::DIESEL_TABLE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrations::source::Lineage;

    fn generated(version: &str, parent: &str, changes: &[&str]) -> MigrationFile {
        MigrationFile {
            name: format!("{version}_m"),
            version: version.into(),
            dir: std::path::PathBuf::new(),
            up: String::new(),
            down: None,
            run_in_transaction: true,
            checksum: String::new(),
            text_checksum: String::new(),
            squash_replaces: vec![],
            squash_checksums: vec![],
            lineage: Some(Lineage {
                parent: parent.into(),
                changes: changes.iter().map(|c| c.to_string()).collect(),
            }),
        }
    }

    #[test]
    fn collisions_are_siblings_with_overlapping_changes() {
        let files = vec![
            generated("1", "", &["authors"]),
            generated("2", "1", &["books.title", "books.pages"]),
            // A sibling of 2 on another table: no collision.
            generated("3", "1", &["reviews.stars"]),
            // A sibling of 2 on the same column: a collision.
            generated("4", "1", &["books.title"]),
            // After 2, so it saw it: none.
            generated("5", "2", &["books.title"]),
            MigrationFile {
                lineage: None,
                ..generated("6", "1", &[])
            },
        ];
        let all = collisions(&files);
        let found: Vec<(&str, &str, &str, Vec<String>)> = all
            .iter()
            .map(|c| {
                (
                    c.earlier.version.as_str(),
                    c.later.version.as_str(),
                    c.parent.as_str(),
                    c.overlap.clone(),
                )
            })
            .collect();
        assert_eq!(found, [("2", "4", "1", vec!["books.title".to_string()])]);
    }
}
