-- dieselkit: SQLite rebuilds a table here (new table, copy the rows, drop the old one).
-- Foreign keys are off around this transaction so that dropping the old table neither
-- deletes nor blocks the rows that reference it; before COMMIT every reference is checked
-- and a dangling one fails the migration, which is then rolled back. PRAGMA foreign_keys
-- has no effect inside a transaction, hence run_in_transaction = false in metadata.toml.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE books__dieselkit_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    title VARCHAR(100) NOT NULL,
    author_id INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT fk_books_author_id FOREIGN KEY (author_id) REFERENCES authors (id) ON DELETE CASCADE
);
INSERT INTO books__dieselkit_new (id, title, author_id, created_at, updated_at) SELECT id, title, author_id, created_at, updated_at FROM books;
DROP TABLE books;
ALTER TABLE books__dieselkit_new RENAME TO books;
CREATE INDEX index_books_on_author_id ON books (author_id);
CREATE TEMP TABLE dieselkit_foreign_key_check (violations INTEGER NOT NULL CONSTRAINT every_reference_must_match_a_row CHECK (violations = 0));
INSERT INTO dieselkit_foreign_key_check SELECT count(*) FROM pragma_foreign_key_check;
DROP TABLE dieselkit_foreign_key_check;
COMMIT;
PRAGMA foreign_keys = ON;
