ALTER TABLE books MODIFY COLUMN pages INTEGER;
-- dieselkit: DESTRUCTIVE: alter column books.title; data added since up.sql ran is lost
ALTER TABLE books MODIFY COLUMN title VARCHAR(100) NOT NULL;
-- dieselkit: DESTRUCTIVE: drop column books.isbn; data added since up.sql ran is lost
ALTER TABLE books DROP COLUMN isbn;
