-- Up Migration
-- Each user's unfinished uploads are counted (and their announced bytes summed) at every creation,
-- to hold the per-user caps.
CREATE INDEX tus_uploads_owner_open_idx ON tus_uploads (owner_sub) WHERE finalized_at IS NULL;

-- Down Migration
DROP INDEX tus_uploads_owner_open_idx;
