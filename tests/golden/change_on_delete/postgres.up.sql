ALTER TABLE books DROP CONSTRAINT fk_books_author_id;
ALTER TABLE books ADD CONSTRAINT fk_books_author_id FOREIGN KEY (author_id) REFERENCES authors (id) ON DELETE CASCADE;
