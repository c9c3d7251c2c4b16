-- Prefect's own state lives in a second database of the same PostgreSQL server as qm's results.
CREATE DATABASE prefect;
