DROP INDEX index_players_on_nick ON players;
ALTER TABLE players MODIFY COLUMN score BIGINT NOT NULL DEFAULT 0;
-- dieselkit: DESTRUCTIVE: drop column players.former_team_id; data added since up.sql ran is lost
ALTER TABLE players DROP COLUMN former_team_id;
-- dieselkit: DESTRUCTIVE: drop column players.team_id; data added since up.sql ran is lost
ALTER TABLE players DROP FOREIGN KEY fk_players_team_id;
ALTER TABLE players DROP COLUMN team_id;
CREATE INDEX index_players_on_nick ON players (nick);
