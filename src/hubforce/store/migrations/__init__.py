"""Alembic environment and revisions of the state store (run by `open_store`)."""
