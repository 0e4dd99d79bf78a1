-- dieselkit: DESTRUCTIVE: drop column books.author_id; data added since up.sql ran is lost
ALTER TABLE books DROP CONSTRAINT fk_books_author_id;
ALTER TABLE books DROP COLUMN author_id;
