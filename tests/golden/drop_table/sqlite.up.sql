-- dieselkit: DESTRUCTIVE: drop table books; the data it removes cannot be restored by down.sql
DROP TABLE books;
