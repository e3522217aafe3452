"""The metadata database: tables, repositories and migrations (SQLite and PostgreSQL)."""
