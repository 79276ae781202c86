-- Run once by the postgres image when its data volume is empty, as POSTGRES_USER, who owns both
-- databases.
CREATE DATABASE registry;
CREATE DATABASE governance;
