"""PostgreSQL access: the connection pool and the numbered SQL migrations."""
