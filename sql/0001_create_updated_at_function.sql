-- Shared trigger function: every table with an updated_at column keeps it current on UPDATE,
-- so no caller can forget to bump it.
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;
