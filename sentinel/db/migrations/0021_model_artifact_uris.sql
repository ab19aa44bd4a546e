-- Models are addressed by URI in an artifact store (sentinel/artifact_store.py: file:///..., s3://bucket/prefix/...)
-- that every node of a cluster reads, not by a path on the machine that trained them. Rows written before keep
-- their artifact readable: an absolute path becomes its file:// URI (characters a URI escapes are escaped as
-- Python's Path.as_uri does for the common ones); a relative path stays relative to the store's root.

ALTER TABLE models RENAME COLUMN artifact_path TO artifact_uri;
UPDATE models
SET artifact_uri = 'file://' || replace(replace(replace(artifact_uri, '%', '%25'), ' ', '%20'), '#', '%23')
WHERE artifact_uri LIKE '/%';
