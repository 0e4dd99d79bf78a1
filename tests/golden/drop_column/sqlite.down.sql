-- dieselkit: restores the structure undone by `drop column books.pages`, not the data it removed
ALTER TABLE books ADD COLUMN pages INTEGER;
