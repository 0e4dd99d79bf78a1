ALTER TABLE books ADD COLUMN author_id INTEGER;
CREATE INDEX index_books_on_author_id ON books (author_id);
ALTER TABLE books ADD CONSTRAINT fk_books_author_id FOREIGN KEY (author_id) REFERENCES authors (id) ON DELETE RESTRICT;
