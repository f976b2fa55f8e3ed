-- (SQLite only: its domain events drop AUTOINCREMENT. Nothing to change on PostgreSQL.)
SELECT 1;
