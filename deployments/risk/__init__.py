"""Risk scores for the API: stored-score reads (Redis, then PostgreSQL), staleness, online scoring."""
