"""Backups of the whole system and their restore: the database (`pg_dump` custom format, one consistent snapshot),
the model artifacts and a manifest with a checksum per file, kept in a local directory or an S3-compatible bucket
with retention by count and age. Ray-free: the CLI (cluster/cli_backup.py) and the scheduler's `backup` job call
`create.run_backup`, `restore.run_restore` and `retention.prune`.
"""
