-- Up Migration
-- KEKs under which only bound wraps (src/keys/dek-wrap.ts) are accepted from now on. Written by
-- `xray-admin rotate-kek --finish` once no X-ray holds an unbound (legacy AES-KW) wrap, current or
-- previous; servers and rotate-kek then refuse an unbound wrap under such a KEK (an old wrap from a
-- backup is bound to no X-ray, so it could be put on any row). The application role may only
-- SELECT and INSERT here (src/db/database-roles.ts): a row is never removed, except by the
-- schema's owner.
CREATE TABLE kek_bound_only (
  kek_id text        PRIMARY KEY,
  since  timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE kek_bound_only;
