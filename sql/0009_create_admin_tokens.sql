-- Local admin tokens: bearer tokens for the admin RPC, for sites without an identity provider (and for scripts
-- beside one). A token is shown once by `livermore admin-token create`; only its SHA-256 and a short prefix are
-- kept. Each token acts as its user, whose role decides what it may do.
CREATE TABLE admin_tokens (
  id           serial PRIMARY KEY,
  user_id      integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  token_hash   text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  prefix       text NOT NULL,
  name         text NOT NULL CHECK (btrim(name) <> ''),
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NULL,
  last_used_at timestamptz NULL,
  revoked_at   timestamptz NULL,
  CONSTRAINT admin_tokens_expire_after_creation CHECK (expires_at IS NULL OR expires_at > created_at)
);

CREATE INDEX admin_tokens_by_user ON admin_tokens (user_id);
