-- The venues seeded for every installation (domain.md §1).
-- Sources: shared/reference/exchanges.md for Binance, Binance.US and Coinbase; the venues' public API docs
-- for Kraken, KuCoin and MEXC. Values a venue does not document are Livermore's own conservative caps and
-- are marked "(undocumented)". Geo restrictions follow each venue's terms at the time of writing; review
-- them before relying on them for compliance.
INSERT INTO exchanges (
  name, display_name, adapter, ws_url, rest_url, timeframes,
  rest_weight_per_minute, candles_per_request, ws_messages_per_second, ws_max_streams_per_connection,
  ws_max_connection_hours, maker_fee, taker_fee, geo_restrictions, is_active
) VALUES
  -- Coinbase Advanced Trade: public REST 10 requests/s per IP; candles ≤ 350 per request; 8 inbound WS
  -- messages/s per IP; products per subscription and connection lifetime (undocumented: 100 is our cap).
  -- Fees: Advanced Trade lowest-volume tier.
  ('coinbase', 'Coinbase Advanced Trade', 'coinbase',
   'wss://advanced-trade-ws.coinbase.com', 'https://api.coinbase.com', ARRAY['5m', '15m', '1h', '4h', '1d'],
   600, 350, 8, 100, NULL, 0.006, 0.012, ARRAY['CU', 'IR', 'KP', 'SY'], true),

  -- Binance.com: REQUEST_WEIGHT 6000/min per IP; klines ≤ 1000; 5 inbound messages/s; 1024 streams per
  -- connection; connections cut at 24 h. Binance refuses US persons (HTTP 451) and several other jurisdictions.
  ('binance', 'Binance', 'binance',
   'wss://stream.binance.com:9443', 'https://api.binance.com', ARRAY['5m', '15m', '1h', '4h', '1d'],
   6000, 1000, 5, 1024, 24, 0.001, 0.001, ARRAY['US', 'CA', 'NL', 'CU', 'IR', 'KP', 'SY'], true),

  -- Binance.US: same protocol as Binance.com; REQUEST_WEIGHT 1200/min per IP. It serves US residents only,
  -- which a deny-list cannot express; the codes below are the states its terms exclude.
  ('binance_us', 'Binance.US', 'binance',
   'wss://stream.binance.us:9443', 'https://api.binance.us', ARRAY['5m', '15m', '1h', '4h', '1d'],
   1200, 1000, 5, 1024, 24, 0.001, 0.001, ARRAY['US-HI', 'US-NY', 'US-TX', 'US-VT'], true),

  -- Kraken (no adapter yet): WS v2 wss://ws.kraken.com/v2; OHLC ≤ 720 candles per call; public REST about
  -- 1 request/s per IP; WS message rate is load-dependent (undocumented: 10/s is our cap), streams per
  -- connection (undocumented: 100). Fees: Kraken Pro lowest tier.
  ('kraken', 'Kraken', NULL,
   'wss://ws.kraken.com/v2', 'https://api.kraken.com', ARRAY['5m', '15m', '1h', '4h', '1d'],
   60, 720, 10, 100, NULL, 0.0025, 0.004, ARRAY['US-NY', 'US-WA', 'AF', 'CU', 'IR', 'IQ', 'KP', 'SY'], false),

  -- KuCoin (no adapter yet): the WS endpoint is handed out with a token by POST /api/v1/bullet-public
  -- (ws-api-spot.kucoin.com is the usual instance); tokens last 24 h; 100 client messages per 10 s;
  -- 300 topics per connection; klines ≤ 1500; public REST pool 2000 per 30 s.
  ('kucoin', 'KuCoin', NULL,
   'wss://ws-api-spot.kucoin.com', 'https://api.kucoin.com', ARRAY['5m', '15m', '1h', '4h', '1d'],
   4000, 1500, 10, 300, 24, 0.001, 0.001, ARRAY['US', 'CA-ON', 'CU', 'IR', 'KP', 'SY'], false),

  -- MEXC (no adapter yet): WS wss://wbs-api.mexc.com/ws (protobuf), 30 subscriptions and 100 messages/s
  -- per connection, valid 24 h; klines ≤ 1000; spot REST 300 weight per 10 s per IP.
  ('mexc', 'MEXC', NULL,
   'wss://wbs-api.mexc.com/ws', 'https://api.mexc.com', ARRAY['5m', '15m', '1h', '4h', '1d'],
   1800, 1000, 100, 30, 24, 0, 0.0005, ARRAY['US', 'CA', 'CN', 'SG', 'CU', 'IR', 'KP', 'SY'], false),

  -- Local protocol-faithful simulators (one process on port 7070 speaks both protocols). They copy the
  -- limits of the venue they imitate so rate-limit handling is exercised the same way.
  ('sim_binance', 'Binance (simulator)', 'binance',
   'ws://127.0.0.1:7070', 'http://127.0.0.1:7070', ARRAY['5m', '15m', '1h', '4h', '1d'],
   6000, 1000, 5, 1024, 24, 0.001, 0.001, '{}', true),

  ('sim_coinbase', 'Coinbase (simulator)', 'coinbase',
   'ws://127.0.0.1:7070', 'http://127.0.0.1:7070', ARRAY['5m', '15m', '1h', '4h', '1d'],
   600, 350, 8, 100, NULL, 0.006, 0.012, '{}', true);
