-- dieselkit: restores the structure undone by `drop column books.author_id`, not the data it removed
ALTER TABLE books ADD COLUMN author_id INTEGER;
-- dieselkit: no backfill given for books.author_id; rows must get a value before NOT NULL
ALTER TABLE books MODIFY COLUMN author_id INTEGER NOT NULL;
CREATE INDEX index_books_on_author_id ON books (author_id);
ALTER TABLE books ADD CONSTRAINT fk_books_author_id FOREIGN KEY (author_id) REFERENCES authors (id) ON DELETE RESTRICT;
