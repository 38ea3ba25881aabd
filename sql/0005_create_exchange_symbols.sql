-- The symbol universe per exchange (domain.md §7): Tier 1 is the shared pool (top N by 24 h quote volume),
-- Tier 2 a user's held symbols outside it. `symbol` is the exchange's own product id; base and quote come
-- from the exchange's product list.
--
-- liquidity_grade, from 24 h quote volume converted to USD:
--   A ≥ 100 M, B ≥ 10 M, C ≥ 1 M, D ≥ 100 k, E below 100 k.
CREATE TABLE exchange_symbols (
  exchange_id      integer NOT NULL REFERENCES exchanges (id) ON DELETE CASCADE,
  symbol           text NOT NULL CHECK (symbol ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$'),
  base_asset       text NOT NULL CHECK (btrim(base_asset) <> ''),
  quote_asset      text NOT NULL CHECK (btrim(quote_asset) <> ''),
  tier             smallint NOT NULL CHECK (tier IN (1, 2)),
  -- Position in the exchange's ranking by 24 h quote volume (1 = most traded); NULL when not ranked.
  rank             integer NULL CHECK (rank > 0),
  volume_24h       double precision NOT NULL CHECK (volume_24h >= 0),
  quote_volume_24h double precision NOT NULL CHECK (quote_volume_24h >= 0),
  liquidity_grade  text NOT NULL CHECK (liquidity_grade IN ('A', 'B', 'C', 'D', 'E')),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (exchange_id, symbol)
);

CREATE INDEX exchange_symbols_by_tier ON exchange_symbols (exchange_id, tier, rank);

CREATE TRIGGER exchange_symbols_set_updated_at BEFORE UPDATE ON exchange_symbols
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
