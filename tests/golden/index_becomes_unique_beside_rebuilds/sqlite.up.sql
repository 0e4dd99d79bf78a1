-- dieselkit: SQLite rebuilds a table here (new table, copy the rows, drop the old one).
-- Foreign keys are off around this transaction so that dropping the old table neither
-- deletes nor blocks the rows that reference it; before COMMIT every reference is checked
-- and a dangling one fails the migration, which is then rolled back. PRAGMA foreign_keys
-- has no effect inside a transaction, hence run_in_transaction = false in metadata.toml.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
DROP INDEX index_players_on_nick;
ALTER TABLE players ADD COLUMN team_id INTEGER REFERENCES teams (id) ON DELETE SET NULL;
CREATE INDEX index_players_on_team_id ON players (team_id);
ALTER TABLE players ADD COLUMN former_team_id INTEGER;
CREATE TABLE players__dieselkit_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    nick VARCHAR(30) NOT NULL,
    score BIGINT,
    rank SMALLINT NOT NULL DEFAULT 2,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    team_id INTEGER,
    former_team_id INTEGER,
    CONSTRAINT fk_players_team_id FOREIGN KEY (team_id) REFERENCES teams (id) ON DELETE SET NULL
);
INSERT INTO players__dieselkit_new (id, nick, score, rank, created_at, updated_at, team_id, former_team_id) SELECT id, nick, score, rank, created_at, updated_at, team_id, former_team_id FROM players;
DROP TABLE players;
ALTER TABLE players__dieselkit_new RENAME TO players;
CREATE INDEX index_players_on_team_id ON players (team_id);
CREATE UNIQUE INDEX index_players_on_nick ON players (nick);
CREATE TEMP TABLE dieselkit_foreign_key_check (violations INTEGER NOT NULL CONSTRAINT every_reference_must_match_a_row CHECK (violations = 0));
INSERT INTO dieselkit_foreign_key_check SELECT count(*) FROM pragma_foreign_key_check;
DROP TABLE dieselkit_foreign_key_check;
COMMIT;
PRAGMA foreign_keys = ON;
