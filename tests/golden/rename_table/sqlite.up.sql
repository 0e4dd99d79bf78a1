-- dieselkit: SQLite rebuilds a table here (new table, copy the rows, drop the old one).
-- Foreign keys are off around this transaction so that dropping the old table neither
-- deletes nor blocks the rows that reference it; before COMMIT every reference is checked
-- and a dangling one fails the migration, which is then rolled back. PRAGMA foreign_keys
-- has no effect inside a transaction, hence run_in_transaction = false in metadata.toml.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
ALTER TABLE books RENAME TO volumes;
DROP INDEX index_books_on_author_id;
CREATE INDEX index_volumes_on_author_id ON volumes (author_id);
ALTER TABLE reviews RENAME COLUMN book_id TO volume_id;
DROP INDEX index_reviews_on_book_id;
CREATE TABLE reviews__dieselkit_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    body TEXT NOT NULL,
    volume_id INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT fk_reviews_volume_id FOREIGN KEY (volume_id) REFERENCES volumes (id) ON DELETE RESTRICT
);
INSERT INTO reviews__dieselkit_new (id, body, volume_id, created_at, updated_at) SELECT id, body, volume_id, created_at, updated_at FROM reviews;
DROP TABLE reviews;
ALTER TABLE reviews__dieselkit_new RENAME TO reviews;
CREATE INDEX index_reviews_on_volume_id ON reviews (volume_id);
CREATE TEMP TABLE dieselkit_foreign_key_check (violations INTEGER NOT NULL CONSTRAINT every_reference_must_match_a_row CHECK (violations = 0));
INSERT INTO dieselkit_foreign_key_check SELECT count(*) FROM pragma_foreign_key_check;
DROP TABLE dieselkit_foreign_key_check;
COMMIT;
PRAGMA foreign_keys = ON;
