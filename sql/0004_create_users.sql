-- People who use the admin side of Livermore, identified by their identity provider's subject
-- (e.g. provider 'clerk', subject 'user_2ab…'); the provider owns email and name, Livermore owns role and settings.
CREATE TABLE users (
  id                serial PRIMARY KEY,
  identity_provider text NOT NULL CHECK (identity_provider ~ '^[a-z][a-z0-9_.-]{0,62}$'),
  subject           text NOT NULL CHECK (btrim(subject) <> ''),
  email             text NULL,
  display_name      text NULL,
  role              text NOT NULL DEFAULT 'viewer' CHECK (role IN ('admin', 'viewer')),
  settings          jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT users_identity_unique UNIQUE (identity_provider, subject)
);

CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- A user's configured connection to an exchange. Credentials are never stored: only the NAMES of the
-- environment variables that hold them on the instance that connects. Both are NULL for a public-data-only
-- connection, or both are set.
CREATE TABLE user_exchanges (
  id                 serial PRIMARY KEY,
  user_id            integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  exchange_id        integer NOT NULL REFERENCES exchanges (id),
  display_name       text NOT NULL CHECK (btrim(display_name) <> ''),
  api_key_env_var    text NULL CHECK (api_key_env_var ~ '^[A-Z_][A-Z0-9_]*$'),
  api_secret_env_var text NULL CHECK (api_secret_env_var ~ '^[A-Z_][A-Z0-9_]*$'),
  is_active          boolean NOT NULL DEFAULT true,
  is_default         boolean NOT NULL DEFAULT false,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT user_exchanges_credentials_paired
    CHECK ((api_key_env_var IS NULL) = (api_secret_env_var IS NULL))
);

-- At most one default exchange per user, enforced by the database rather than by callers.
CREATE UNIQUE INDEX user_exchanges_one_default_per_user ON user_exchanges (user_id) WHERE is_default;
CREATE INDEX user_exchanges_by_user ON user_exchanges (user_id);

CREATE TRIGGER user_exchanges_set_updated_at BEFORE UPDATE ON user_exchanges
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
