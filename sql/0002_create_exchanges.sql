-- Exchanges Livermore knows about (domain.md §1). One row per venue; binance, binance_us and the
-- Binance simulator share the `binance` adapter and differ only in their row.
--
-- `adapter` is the wire protocol that speaks to the venue. Only the coinbase and binance protocols
-- exist, so `adapter` is NULL for venues we list but cannot serve yet (kraken, kucoin, mexc):
-- NULL means "no adapter implemented", not a guess. Such a row can never be active (CHECK below),
-- and the store exposes it only in its catalog, never as a domain Exchange.
CREATE TABLE exchanges (
  id                            serial PRIMARY KEY,
  name                          text NOT NULL UNIQUE CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
  display_name                  text NOT NULL CHECK (btrim(display_name) <> ''),
  adapter                       text NULL CHECK (adapter IN ('coinbase', 'binance')),
  ws_url                        text NOT NULL CHECK (ws_url ~ '^wss?://[^\s]+$'),
  rest_url                      text NOT NULL CHECK (rest_url ~ '^https?://[^\s]+$'),
  -- Timeframes Livermore keeps for this venue (a subset of the domain's 5m, 15m, 1h, 4h, 1d).
  timeframes                    text[] NOT NULL CHECK (
                                  cardinality(timeframes) > 0
                                  AND timeframes <@ ARRAY['5m', '15m', '1h', '4h', '1d']::text[]
                                ),
  -- API limits, one column per field of the domain's Exchange.ApiLimits.
  rest_weight_per_minute        integer NOT NULL CHECK (rest_weight_per_minute > 0),
  candles_per_request           integer NOT NULL CHECK (candles_per_request > 0),
  ws_messages_per_second        integer NOT NULL CHECK (ws_messages_per_second > 0),
  ws_max_streams_per_connection integer NOT NULL CHECK (ws_max_streams_per_connection > 0),
  -- NULL when the venue documents no forced disconnect.
  ws_max_connection_hours       double precision NULL CHECK (ws_max_connection_hours > 0),
  -- Base-tier fees as fractions (0.001 = 0.1 %); an account's real rate comes from the venue.
  maker_fee                     numeric(8, 6) NOT NULL CHECK (maker_fee >= 0),
  taker_fee                     numeric(8, 6) NOT NULL CHECK (taker_fee >= 0),
  -- ISO 3166 codes (countries, or ISO 3166-2 subdivisions such as US-NY) from which the venue may not be used.
  geo_restrictions              text[] NOT NULL DEFAULT '{}' CHECK (
                                  array_to_string(geo_restrictions, ',') ~ '^([A-Z]{2}(-[A-Z0-9]{1,3})?(,|$))*$'
                                ),
  is_active                     boolean NOT NULL DEFAULT false,
  created_at                    timestamptz NOT NULL DEFAULT now(),
  updated_at                    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT exchanges_active_needs_adapter CHECK (adapter IS NOT NULL OR NOT is_active)
);

CREATE TRIGGER exchanges_set_updated_at BEFORE UPDATE ON exchanges
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
