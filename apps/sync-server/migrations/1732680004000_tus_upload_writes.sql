-- Up Migration
-- Every write to a tus upload, on any instance, bumps this count while it holds the upload's lock.
-- An instance that verified an upload's bytes as they arrived trusts that work only if it saw
-- every count in turn: a write it did not see (on another instance) may have changed stored bytes
-- its own offset checks cannot tell apart (an S3 incomplete part lost, then re-sent differently).
ALTER TABLE tus_uploads ADD COLUMN writes bigint NOT NULL DEFAULT 0;

-- Down Migration
ALTER TABLE tus_uploads DROP COLUMN writes;
