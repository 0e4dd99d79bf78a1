DROP INDEX index_players_on_nick;
ALTER TABLE players ALTER COLUMN score SET DEFAULT 0;
ALTER TABLE players ALTER COLUMN score SET NOT NULL;
-- dieselkit: DESTRUCTIVE: drop column players.former_team_id; data added since up.sql ran is lost
ALTER TABLE players DROP COLUMN former_team_id;
-- dieselkit: DESTRUCTIVE: drop column players.team_id; data added since up.sql ran is lost
ALTER TABLE players DROP CONSTRAINT fk_players_team_id;
ALTER TABLE players DROP COLUMN team_id;
CREATE INDEX index_players_on_nick ON players (nick);
