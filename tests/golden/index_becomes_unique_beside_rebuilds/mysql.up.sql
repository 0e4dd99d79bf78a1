DROP INDEX index_players_on_nick ON players;
ALTER TABLE players ADD COLUMN team_id INTEGER;
CREATE INDEX index_players_on_team_id ON players (team_id);
ALTER TABLE players ADD CONSTRAINT fk_players_team_id FOREIGN KEY (team_id) REFERENCES teams (id) ON DELETE SET NULL;
ALTER TABLE players ADD COLUMN former_team_id INTEGER;
ALTER TABLE players MODIFY COLUMN score BIGINT;
CREATE UNIQUE INDEX index_players_on_nick ON players (nick);
