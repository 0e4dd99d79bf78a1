-- dieselkit: DESTRUCTIVE: drop column books.isbn; data added since up.sql ran is lost
ALTER TABLE books DROP COLUMN isbn;
