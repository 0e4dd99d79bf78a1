RENAME TABLE books TO volumes;
ALTER TABLE volumes RENAME INDEX index_books_on_author_id TO index_volumes_on_author_id;
ALTER TABLE volumes DROP FOREIGN KEY fk_books_author_id;
ALTER TABLE volumes ADD CONSTRAINT fk_volumes_author_id FOREIGN KEY (author_id) REFERENCES authors (id) ON DELETE RESTRICT;
ALTER TABLE reviews RENAME COLUMN book_id TO volume_id;
ALTER TABLE reviews DROP FOREIGN KEY fk_reviews_book_id;
DROP INDEX index_reviews_on_book_id ON reviews;
CREATE INDEX index_reviews_on_volume_id ON reviews (volume_id);
ALTER TABLE reviews ADD CONSTRAINT fk_reviews_volume_id FOREIGN KEY (volume_id) REFERENCES volumes (id) ON DELETE RESTRICT;
