ALTER TABLE books ALTER COLUMN pages DROP NOT NULL;
-- dieselkit: DESTRUCTIVE: alter column books.title; data added since up.sql ran is lost
ALTER TABLE books ALTER COLUMN title TYPE VARCHAR(100);
-- dieselkit: DESTRUCTIVE: drop column books.isbn; data added since up.sql ran is lost
ALTER TABLE books DROP COLUMN isbn;
