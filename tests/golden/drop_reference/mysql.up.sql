ALTER TABLE books DROP FOREIGN KEY fk_books_author_id;
DROP INDEX index_books_on_author_id ON books;
-- dieselkit: DESTRUCTIVE: drop column books.author_id; the data it removes cannot be restored by down.sql
ALTER TABLE books DROP COLUMN author_id;
