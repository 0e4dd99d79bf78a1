CREATE INDEX index_books_on_title ON books (title);
