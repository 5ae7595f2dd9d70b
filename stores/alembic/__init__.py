"""Alembic migrations of the SQL session store (a package so that wheels ship them)."""
