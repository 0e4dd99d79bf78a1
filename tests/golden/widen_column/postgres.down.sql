-- dieselkit: DESTRUCTIVE: alter column books.title; data added since up.sql ran is lost
ALTER TABLE books ALTER COLUMN title TYPE VARCHAR(100);
