"""Alembic migrations: the only way the registry's schema changes."""
