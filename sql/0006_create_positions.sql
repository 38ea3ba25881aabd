-- Spot holdings per user and exchange; they feed Tier 2 of the symbol universe (domain.md §7).
-- Decimal columns stay numeric so quantities round-trip exactly.
CREATE TABLE positions (
  user_id       integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  exchange_id   integer NOT NULL REFERENCES exchanges (id),
  symbol        text NOT NULL CHECK (symbol ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$'),
  quantity      numeric NOT NULL CHECK (quantity >= 0),
  -- NULL when the exchange's fills do not allow computing it.
  average_price numeric NULL CHECK (average_price >= 0),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, exchange_id, symbol)
);

CREATE TRIGGER positions_set_updated_at BEFORE UPDATE ON positions
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
