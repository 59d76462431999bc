-- Up Migration
-- The X-ray fields of an unfinished upload (patient id, capture time…) live here, beside who owns
-- it, and not in the tus store's info files next to the encrypted bytes: those keep only the
-- wrapped data key. NULL for uploads begun before this column (their info files still hold them).
ALTER TABLE tus_uploads ADD COLUMN metadata jsonb;

-- Down Migration
ALTER TABLE tus_uploads DROP COLUMN metadata;
