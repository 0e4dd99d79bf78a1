-- dieselkit: DESTRUCTIVE: drop column books.stock; data added since up.sql ran is lost
ALTER TABLE books DROP COLUMN stock;
