-- A JSON submission's content, as intake compares it: the SHA-256 of its canonical JSON
-- (members sorted, no insignificant whitespace), so a re-serialised retry of the same document
-- is recognised as the same submission. content_digest stays the digest of the exact bytes.
-- NULL for CSV bodies, bodies that are not JSON, and submissions stored before this column.
ALTER TABLE submissions ADD COLUMN canonical_digest bytea;
