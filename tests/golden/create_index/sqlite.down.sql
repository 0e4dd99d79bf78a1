DROP INDEX index_books_on_title;
