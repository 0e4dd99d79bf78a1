-- dieselkit: DESTRUCTIVE: drop table books; data added since up.sql ran is lost
DROP TABLE books;
