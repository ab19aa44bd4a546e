"""PostgreSQL access: the connection pool, the numbered SQL migrations (migrations/) and their runner (migrate.py)."""
