ALTER TABLE reviews DROP FOREIGN KEY fk_reviews_volume_id;
DROP INDEX index_reviews_on_volume_id ON reviews;
CREATE INDEX index_reviews_on_book_id ON reviews (volume_id);
ALTER TABLE reviews ADD CONSTRAINT fk_reviews_book_id FOREIGN KEY (volume_id) REFERENCES volumes (id) ON DELETE RESTRICT;
ALTER TABLE reviews RENAME COLUMN volume_id TO book_id;
RENAME TABLE volumes TO books;
ALTER TABLE books RENAME INDEX index_volumes_on_author_id TO index_books_on_author_id;
ALTER TABLE books DROP FOREIGN KEY fk_volumes_author_id;
ALTER TABLE books ADD CONSTRAINT fk_books_author_id FOREIGN KEY (author_id) REFERENCES authors (id) ON DELETE RESTRICT;
