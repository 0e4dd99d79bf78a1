-- dieselkit: DESTRUCTIVE: drop column books.pages; data added since up.sql ran is lost
ALTER TABLE books DROP COLUMN pages;
