-- Keys for the public API (domain.md §8). The key itself (a random UUID) is shown once at creation and
-- never stored: only its SHA-256 (lowercase hex) and a short prefix that lets humans tell keys apart.
-- A UUID carries 122 random bits, so an unsalted hash cannot be brute-forced and lookups stay one index probe.
CREATE TABLE api_keys (
  id            serial PRIMARY KEY,
  key_hash      text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
  prefix        text NOT NULL CHECK (char_length(prefix) BETWEEN 4 AND 16),
  name          text NOT NULL CHECK (btrim(name) <> ''),
  -- The user who owns the key; deleting the user deletes (and so disables) their keys.
  owner_user_id integer NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz NULL,
  revoked_at    timestamptz NULL
);
