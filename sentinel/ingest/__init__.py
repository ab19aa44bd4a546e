"""Ingestion core without Ray: fetching from Socrata, merging normalized batches into PostgreSQL, watermarks."""
