"""Alembic migrations: the schema of record, identical on SQLite and PostgreSQL."""
