-- Every alert fired by the rules of domain.md §3, stored once.
--
-- candle_open_time is bigint milliseconds since the epoch (UTC), exactly the domain's Alert.candleOpenTime
-- and the scores of the Redis candle keys: no time-zone or precision conversion can make two deliveries of
-- the same alert differ, which the uniqueness below depends on. triggered_at is a timestamptz for humans
-- and for time-range queries.
CREATE TABLE alert_history (
  id                 bigserial PRIMARY KEY,
  exchange_id        integer NOT NULL REFERENCES exchanges (id),
  -- Source attribution as it was when the alert fired (exchange names are stable, but history must not change).
  exchange_name      text NOT NULL,
  symbol             text NOT NULL,
  timeframe          text NOT NULL CHECK (timeframe IN ('5m', '15m', '1h', '4h', '1d')),
  label              text NOT NULL CHECK (label ~ '^(level_[+-][0-9]+|reversal_oversold|reversal_overbought)$'),
  value              double precision NOT NULL CHECK (value NOT IN ('NaN', 'Infinity', '-Infinity')),
  price              double precision NOT NULL CHECK (price NOT IN ('NaN', 'Infinity', '-Infinity')),
  candle_open_time   bigint NOT NULL CHECK (candle_open_time >= 0),
  triggered_at       timestamptz NOT NULL,
  details            jsonb NOT NULL DEFAULT '{}',
  notification_sent  boolean NOT NULL DEFAULT false,
  notification_error text NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  -- Open times are aligned to the UTC epoch (domain.md §1).
  CONSTRAINT alert_history_open_time_aligned CHECK (
    candle_open_time % CASE timeframe
      WHEN '5m' THEN 300000 WHEN '15m' THEN 900000 WHEN '1h' THEN 3600000
      WHEN '4h' THEN 14400000 ELSE 86400000 END = 0
  ),
  -- A restart, a reconnect or a second delivery never duplicates an alert (domain.md §3).
  CONSTRAINT alert_history_once UNIQUE (exchange_id, symbol, timeframe, label, candle_open_time)
);

-- Listing newest first, globally and per series, with (triggered_at, id) keyset pagination.
CREATE INDEX alert_history_by_time ON alert_history (triggered_at DESC, id DESC);
CREATE INDEX alert_history_by_series_time
  ON alert_history (exchange_id, symbol, timeframe, triggered_at DESC, id DESC);
