-- dieselkit: DESTRUCTIVE: drop column books.pages; the data it removes cannot be restored by down.sql
ALTER TABLE books DROP COLUMN pages;
