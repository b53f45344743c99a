"""Alembic migrations: the only way the registry's schema changes."""

# The newest revision in versions/. The CLI compares a database against it on
# every command without importing Alembic (which costs ~0.15 s of start-up);
# tests/registry/test_migrations.py checks it equals Alembic's own head.
HEAD_REVISION = "0017"
