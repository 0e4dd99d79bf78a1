-- dieselkit: DESTRUCTIVE: alter column books.title; data added since up.sql ran is lost
ALTER TABLE books MODIFY COLUMN title VARCHAR(100) NOT NULL;
