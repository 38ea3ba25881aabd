import { createHmac } from "node:crypto"
import { HttpClient, HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Exchange, Market } from "@livermore/domain"
import { ExchangeError } from "@livermore/exchange"
import { ConfigProvider, Context, Effect, Layer, Option, Schema, TestClock } from "effect"
import * as BinanceAccount from "../src/BinanceAccount.js"
import * as BinanceRest from "../src/BinanceRest.js"
import { text } from "./fixtures.js"

const apiKey = "test-key-0123456789"
const secretKey = "test-secret-abcdefghijklmnopqrstuvwxyz"
const vars = { apiKey: "BINANCE_TEST_KEY", apiSecret: "BINANCE_TEST_SECRET" }
const now = 1_700_000_000_000
const TRADES = 2500

const row = Exchange.Exchange.make({
  id: Schema.decodeSync(Exchange.ExchangeId)(2),
  name: Schema.decodeSync(Exchange.ExchangeName)("binance_us"),
  displayName: "Binance.US",
  adapter: "binance",
  wsUrl: "wss://stream.binance.us:9443",
  restUrl: "https://api.binance.us",
  timeframes: ["5m", "15m", "1h", "4h", "1d"],
  apiLimits: Exchange.ApiLimits.make({
    restWeightPerMinute: 1200,
    candlesPerRequest: 1000,
    wsMessagesPerSecond: 5,
    wsMaxStreamsPerConnection: 1024,
    wsMaxConnectionHours: Option.some(24)
  }),
  fees: Exchange.Fees.make({ maker: 0.001, taker: 0.001 }),
  geoRestrictions: [],
  isActive: true
})

/** A Binance double that checks the key header and the signature the way the venue does. */
const fakeVenue = (options: { readonly rejectKey?: boolean; readonly driftBy?: number } = {}) => {
  const requests: Array<URL> = []
  // The venue's clock relative to the (frozen) test clock; `driftBy` moves it once the first signed request lands.
  let offset = 250
  let drift = options.driftBy
  const reply = (request: Parameters<typeof HttpClientResponse.fromWeb>[0], status: number, body: string) =>
    HttpClientResponse.fromWeb(request, new Response(body, { status, headers: { "content-type": "application/json" } }))
  const client = HttpClient.make((request, url) =>
    Effect.sync(() => {
      requests.push(url)
      if (url.pathname === "/api/v3/time") return reply(request, 200, JSON.stringify({ serverTime: now + offset }))
      if (drift !== undefined) {
        offset += drift
        drift = undefined
      }
      const query = url.search.slice(1)
      const signed = query.slice(0, query.lastIndexOf("&signature="))
      const expected = createHmac("sha256", secretKey).update(signed).digest("hex")
      if (request.headers["x-mbx-apikey"] !== apiKey || options.rejectKey) {
        return reply(request, 401, '{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}')
      }
      if (url.searchParams.get("signature") !== expected) {
        return reply(request, 400, '{"code":-1022,"msg":"Signature for this request is not valid."}')
      }
      if (!`&${query}`.endsWith(`&recvWindow=5000&timestamp=${now + offset}&signature=${expected}`)) {
        return reply(request, 400, '{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}')
      }
      if (url.pathname === "/api/v3/account") return reply(request, 200, text("account"))
      if (url.pathname === "/api/v3/myTrades") {
        const fromId = Number(url.searchParams.get("fromId"))
        const limit = Number(url.searchParams.get("limit"))
        const rows = []
        for (let id = Math.max(fromId, 1); id <= TRADES && rows.length < limit; id++) {
          rows.push({
            symbol: url.searchParams.get("symbol"),
            id,
            orderId: 10_000 + id,
            orderListId: -1,
            price: "4.00000100",
            qty: "1.5",
            quoteQty: "6.0000015",
            commission: "0.001",
            commissionAsset: "BNB",
            time: 1_499_865_549_590 + id,
            isBuyer: id % 2 === 0,
            isMaker: id % 3 === 0,
            isBestMatch: true
          })
        }
        return reply(request, 200, JSON.stringify(rows))
      }
      return reply(request, 404, '{"code":-1,"msg":"not found"}')
    })
  )
  return { client, requests }
}

const build = (client: HttpClient.HttpClient, env: Record<string, string>) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(now)
    const context = yield* Layer.build(
      BinanceAccount.layer(row, vars).pipe(
        Layer.provide(BinanceRest.layerGovernor(row)),
        Layer.provide(Layer.succeed(HttpClient.HttpClient, client)),
        Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))
      )
    )
    return Context.get(context, BinanceAccount.BinanceAccount)
  })

const env = { BINANCE_TEST_KEY: apiKey, BINANCE_TEST_SECRET: secretKey }

describe("BinanceAccount", () => {
  it.scoped("reads non-zero balances and commission rates over a signed request stamped in server time", () =>
    Effect.gen(function* () {
      const venue = fakeVenue()
      const account = yield* (yield* build(venue.client, env)).account
      assert.deepStrictEqual(account.balances, [
        { asset: "BTC", free: 0.5, locked: 0.1 },
        { asset: "USDT", free: 1200.5, locked: 0 }
      ])
      assert.deepStrictEqual(account.commission, Option.some({ maker: 0.001, taker: 0.001 }))
      assert.deepStrictEqual(
        venue.requests.map((u) => u.pathname),
        ["/api/v3/time", "/api/v3/account"]
      )
    })
  )

  it.scoped("pages through trades with fromId, 1000 at a time, without repeats", () =>
    Effect.gen(function* () {
      const venue = fakeVenue()
      const account = yield* build(venue.client, env)
      const symbol = Schema.decodeSync(Market.SymbolId)("BNBBTC")
      const trades = yield* account.myTrades(symbol)
      assert.strictEqual(trades.length, TRADES)
      assert.deepStrictEqual(
        trades.map((t) => t.id),
        Array.from({ length: TRADES }, (_, i) => i + 1)
      )
      const pages = venue.requests.filter((u) => u.pathname === "/api/v3/myTrades")
      assert.deepStrictEqual(
        pages.map((u) => u.searchParams.get("fromId")),
        ["0", "1001", "2001"]
      )
      assert.deepStrictEqual(trades[1], {
        symbol,
        id: 2,
        orderId: 10_002,
        price: 4.000001,
        quantity: 1.5,
        quoteQuantity: 6.0000015,
        commission: 0.001,
        commissionAsset: "BNB",
        time: 1_499_865_549_592,
        isBuyer: true,
        isMaker: false
      })
      const later = yield* account.myTrades(symbol, { fromId: 2400 })
      assert.deepStrictEqual([later.length, later[0]?.id], [101, 2400])
    })
  )

  it.scoped("a refused timestamp (-1021) re-measures the server clock and re-signs once", () =>
    Effect.gen(function* () {
      const venue = fakeVenue({ driftBy: 5000 })
      const account = yield* (yield* build(venue.client, env)).account
      assert.strictEqual(account.balances.length, 2)
      assert.deepStrictEqual(
        venue.requests.map((u) => u.pathname),
        ["/api/v3/time", "/api/v3/account", "/api/v3/time", "/api/v3/account"]
      )
      assert.strictEqual(venue.requests[3]?.searchParams.get("timestamp"), String(now + 5250))
    })
  )

  it.scoped("a refused key is an AuthError carrying Binance's code, not the key", () =>
    Effect.gen(function* () {
      const account = yield* build(fakeVenue({ rejectKey: true }).client, env)
      const error = yield* Effect.flip(account.account)
      assert.instanceOf(error, ExchangeError.AuthError)
      assert.include(error.message, "-2015")
      assert.notInclude(error.message, apiKey)
    })
  )

  it.scoped("a wrong secret is an AuthError (-1022)", () =>
    Effect.gen(function* () {
      const account = yield* build(fakeVenue().client, { ...env, BINANCE_TEST_SECRET: "another-secret" })
      const error = yield* Effect.flip(account.account)
      assert.instanceOf(error, ExchangeError.AuthError)
      assert.include(error.message, "-1022")
      assert.notInclude(error.message, "another-secret")
    })
  )

  it.scoped("a missing variable fails the layer with an AuthError naming it", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(build(fakeVenue().client, { BINANCE_TEST_KEY: apiKey }))
      assert.instanceOf(error, ExchangeError.AuthError)
      assert.strictEqual(error.message, "binance_us: authentication failed: environment variable BINANCE_TEST_SECRET is not set")
    })
  )
})
