import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import * as Messages from "../src/CoinbaseMessages.js"
import * as Parse from "../src/CoinbaseParse.js"
import { fixture } from "./fixtures.js"

const decodeRight = (name: string): Messages.ServerMessage => {
  const decoded = Messages.decodeServerMessage(fixture(name))
  if (Either.isLeft(decoded)) throw new Error(`${name}: ${decoded.left.message}`)
  return decoded.right
}

describe("CoinbaseMessages: WebSocket frames", () => {
  it("decodes a candles snapshot: seconds-as-string starts, decimal strings, RFC 3339 ns timestamp", () => {
    const message = decodeRight("ws_candles_snapshot")
    assert.instanceOf(message, Messages.CoinbaseCandlesMessage)
    if (!(message instanceof Messages.CoinbaseCandlesMessage)) return
    assert.strictEqual(message.client_id, "")
    assert.strictEqual(message.sequence_num, 1)
    assert.strictEqual(message.timestamp, Date.UTC(2026, 0, 5, 10, 2, 11, 396))
    const event = message.events[0]!
    assert.strictEqual(event.type, "snapshot")
    assert.strictEqual(event.candles.length, 3)
    const first = event.candles[0]!
    assert.strictEqual(first.start, 1767607200)
    assert.strictEqual(first.product_id, "BTC-USD")
    assert.strictEqual(first.high, 93012.5)
    assert.strictEqual(first.volume, 3.21054876)
  })

  it("decodes a candles update without client_id (production omits it)", () => {
    const message = decodeRight("ws_candles_update")
    assert.instanceOf(message, Messages.CoinbaseCandlesMessage)
    if (!(message instanceof Messages.CoinbaseCandlesMessage)) return
    assert.isUndefined(message.client_id)
    assert.strictEqual(message.events[0]!.type, "update")
    assert.strictEqual(message.timestamp, Date.UTC(2026, 0, 5, 10, 2, 12, 500))
  })

  it("decodes a ticker with every documented field", () => {
    const message = decodeRight("ws_ticker")
    assert.instanceOf(message, Messages.CoinbaseTickerMessage)
    if (!(message instanceof Messages.CoinbaseTickerMessage)) return
    const ticker = message.events[0]!.tickers[0]!
    assert.strictEqual(ticker.product_id, "BTC-USD")
    assert.strictEqual(ticker.price, 93018.75)
    assert.strictEqual(ticker.volume_24_h, 16038.28770938)
    assert.strictEqual(ticker.best_bid, 93018.74)
    assert.strictEqual(ticker.best_ask_quantity, 0.07770938)
    assert.strictEqual(ticker.price_percent_chg_24_h, -1.15775596190603)
  })

  it("decodes heartbeats whose counter is a string and whose counter is an integer", () => {
    const asString = decodeRight("ws_heartbeats_string")
    const asInteger = decodeRight("ws_heartbeats_integer")
    assert.instanceOf(asString, Messages.CoinbaseHeartbeatsMessage)
    assert.instanceOf(asInteger, Messages.CoinbaseHeartbeatsMessage)
    if (!(asString instanceof Messages.CoinbaseHeartbeatsMessage)) return
    if (!(asInteger instanceof Messages.CoinbaseHeartbeatsMessage)) return
    assert.strictEqual(asString.events[0]!.heartbeat_counter, 3049)
    assert.strictEqual(asInteger.events[0]!.heartbeat_counter, 3050)
    assert.match(asString.events[0]!.current_time, /^2026-01-05 10:02:14/)
  })

  it("decodes the subscriptions acknowledgement", () => {
    const message = decodeRight("ws_subscriptions")
    assert.instanceOf(message, Messages.CoinbaseSubscriptionsMessage)
    if (!(message instanceof Messages.CoinbaseSubscriptionsMessage)) return
    assert.deepStrictEqual(message.events[0]!.subscriptions.candles, ["BTC-USD", "ETH-USD"])
    assert.deepStrictEqual(message.events[0]!.subscriptions.heartbeats, ["heartbeats"])
  })

  it("decodes an error frame", () => {
    const message = decodeRight("ws_error")
    assert.instanceOf(message, Messages.CoinbaseErrorMessage)
    if (!(message instanceof Messages.CoinbaseErrorMessage)) return
    assert.match(message.message, /failure to subscribe/)
  })

  it("accepts an envelope of a channel it does not read, so its sequence number still counts", () => {
    const message = decodeRight("ws_other_channel")
    assert.instanceOf(message, Messages.CoinbaseOtherMessage)
    assert.strictEqual((message as Messages.CoinbaseOtherMessage).sequence_num, 9)
  })

  it("rejects malformed frames: bad JSON, a non-numeric price, a missing field, a bad timestamp", () => {
    const bad = [
      "{not json",
      "",
      fixture("ws_candles_update").replace('"93020"', '"abc"'),
      fixture("ws_candles_update").replace('"product_id": "BTC-USD"', '"product": "BTC-USD"'),
      fixture("ws_candles_update").replace("2026-01-05T10:02:12.5Z", "yesterday"),
      fixture("ws_heartbeats_string").replace('"3049"', '"3049.5"'),
      '{"channel":"candles","timestamp":"2026-01-05T10:02:12.5Z","sequence_num":3,"events":[{"type":"update"}]}',
      "[]"
    ]
    for (const text of bad) assert.isTrue(Either.isLeft(Messages.decodeServerMessage(text)), text.slice(0, 80))
  })

  it("builds subscribe frames with exactly one channel each", () => {
    assert.deepStrictEqual(
      JSON.parse(Messages.subscribeFrame({ type: "subscribe", channel: "candles", product_ids: ["BTC-USD"] })),
      { type: "subscribe", channel: "candles", product_ids: ["BTC-USD"] }
    )
    assert.deepStrictEqual(JSON.parse(Messages.subscribeFrame({ type: "subscribe", channel: "heartbeats" })), {
      type: "subscribe",
      channel: "heartbeats"
    })
  })
})

describe("CoinbaseMessages: REST bodies", () => {
  it("decodes candles (newest first, as sent)", () => {
    const decoded = Parse.decodeJson(Messages.CoinbaseCandlesResponse, "coinbase", "candles")(fixture("rest_candles"))
    assert.isTrue(Either.isRight(decoded))
    if (Either.isLeft(decoded)) return
    assert.deepStrictEqual(
      decoded.right.candles.map((c) => c.start),
      [1767608400, 1767607800, 1767607500, 1767607200, 1767606600]
    )
    assert.strictEqual(decoded.right.candles[0]!.close, 93040)
  })

  it("decodes products, keeping blank volume strings for the parser to judge", () => {
    const decoded = Parse.decodeJson(Messages.CoinbaseProductsResponse, "coinbase", "products")(fixture("rest_products"))
    assert.isTrue(Either.isRight(decoded))
    if (Either.isLeft(decoded)) return
    assert.strictEqual(decoded.right.num_products, 8)
    const btc = decoded.right.products[0]!
    assert.strictEqual(btc.product_id, "BTC-USD")
    assert.strictEqual(btc.base_currency_id, "BTC")
    assert.strictEqual(btc.quote_currency_id, "USD")
    assert.strictEqual(btc.approximate_quote_24h_volume, "1491846123.55")
    assert.deepStrictEqual(btc.alias_to, ["BTC-USDC"])
    assert.strictEqual(decoded.right.products[4]!.volume_24h, "")
  })

  it("decodes the error body", () => {
    const decoded = Parse.decodeJson(Messages.CoinbaseErrorBody, "coinbase", "error")(fixture("rest_error"))
    assert.deepStrictEqual(
      Either.map(decoded, (b) => [b.error, b.code, b.message]),
      Either.right(["NOT_FOUND", 5, "product not found"])
    )
  })

  it("decodes the private bodies: accounts pages, transaction summary, fills pages", () => {
    const page = Parse.decodeJson(Messages.CoinbaseAccountsPage, "coinbase", "accounts")(fixture("rest_accounts_page1"))
    assert.deepStrictEqual(
      Either.map(page, (p) => [p.has_next, p.cursor, p.accounts[0]!.available_balance.value, p.accounts[0]!.hold?.value]),
      Either.right([true, "789100", 1.2345, 0.1])
    )
    const summary = Parse.decodeJson(Messages.CoinbaseTransactionSummary, "coinbase", "summary")(
      fixture("rest_transaction_summary")
    )
    assert.deepStrictEqual(
      Either.map(summary, (s) => [s.total_volume, s.fee_tier.maker_fee_rate, s.fee_tier.taker_fee_rate]),
      Either.right([1000, 0.006, 0.012])
    )
    const fills = Parse.decodeJson(Messages.CoinbaseFillsPage, "coinbase", "fills")(fixture("rest_fills_page1"))
    assert.deepStrictEqual(
      Either.map(fills, (f) => [f.cursor, f.fills[0]!.commission, f.fills[0]!.side]),
      Either.right(["page-2", 0.552, "BUY"])
    )
  })

  it("turns a malformed body into a DecodeError naming the request and quoting the input", () => {
    const decode = Parse.decodeJson(Messages.CoinbaseCandlesResponse, "coinbase", "GET /market/products/{id}/candles")
    for (const text of ['{"candles":[{"start":"x"}]}', "<html>502</html>", '{"candle":[]}']) {
      const decoded = decode(text)
      assert.isTrue(Either.isLeft(decoded))
      if (Either.isRight(decoded)) continue
      assert.strictEqual(decoded.left._tag, "DecodeError")
      assert.strictEqual(decoded.left.exchange, "coinbase")
      assert.strictEqual(decoded.left.what, "GET /market/products/{id}/candles")
      assert.strictEqual(decoded.left.excerpt, text)
      assert.match(decoded.left.message, /cannot decode GET \/market\/products\/\{id\}\/candles/)
    }
  })
})
