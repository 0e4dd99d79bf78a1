ALTER TABLE reviews DROP CONSTRAINT fk_reviews_volume_id;
DROP INDEX index_reviews_on_volume_id;
CREATE INDEX index_reviews_on_book_id ON reviews (volume_id);
ALTER TABLE reviews ADD CONSTRAINT fk_reviews_book_id FOREIGN KEY (volume_id) REFERENCES volumes (id) ON DELETE RESTRICT;
ALTER TABLE reviews RENAME COLUMN volume_id TO book_id;
ALTER TABLE volumes RENAME TO books;
ALTER INDEX index_volumes_on_author_id RENAME TO index_books_on_author_id;
ALTER TABLE books RENAME CONSTRAINT fk_volumes_author_id TO fk_books_author_id;
