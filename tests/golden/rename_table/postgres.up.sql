ALTER TABLE books RENAME TO volumes;
ALTER INDEX index_books_on_author_id RENAME TO index_volumes_on_author_id;
ALTER TABLE volumes RENAME CONSTRAINT fk_books_author_id TO fk_volumes_author_id;
ALTER TABLE reviews RENAME COLUMN book_id TO volume_id;
ALTER TABLE reviews DROP CONSTRAINT fk_reviews_book_id;
DROP INDEX index_reviews_on_book_id;
CREATE INDEX index_reviews_on_volume_id ON reviews (volume_id);
ALTER TABLE reviews ADD CONSTRAINT fk_reviews_volume_id FOREIGN KEY (volume_id) REFERENCES volumes (id) ON DELETE RESTRICT;
