/**
 * Contract tests of the public API through the client derived from the same `HttpApi` definition: every endpoint
 * answers what was seeded into the cache, mapped by the documented rules (restated in `support.ts`, computed from
 * the seed), in the `{ data, meta }` envelope; cursors walk whole histories without gaps or duplicates; errors
 * reach the client as the typed error classes.
 */
import { FetchHttpClient, HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { describe, expect, layer } from "@effect/vitest"
import type { PublicCatalog } from "@livermore/cache"
import { Timeframe } from "@livermore/domain"
import { Context, DateTime, Effect, Layer } from "effect"
import { PublicApi, PublicErrors } from "../src/index.js"
import * as S from "./support.js"

class Fixture extends Context.Tag("test/Fixture")<
  Fixture,
  { readonly server: S.TestServer; readonly seed: S.Seed; readonly key: S.SeedKey }
>() {}

const FixtureLive = Layer.scoped(
  Fixture,
  Effect.gen(function* () {
    const prefix = S.freshPrefix("contract")
    yield* S.cleanupNamespace(prefix)
    const server = yield* S.startServer({ prefix, requestsPerMinute: 6000 })
    const seed = S.makeSeed()
    yield* S.seedAll(server, seed)
    const key = S.makeKey(1)
    yield* S.seedKeys(server, [key])
    return { server, seed, key }
  })
)

/** The client derived from `PublicApi`, sending `key` (none when undefined). */
const clientFor = (baseUrl: string, key: string | undefined) =>
  HttpApiClient.make(PublicApi.PublicApi, {
    baseUrl,
    transformClient: (client) =>
      key === undefined ? client : HttpClient.mapRequest(client, HttpClientRequest.setHeader("x-api-key", key))
  }).pipe(Effect.provide(FetchHttpClient.layer))

const client = Effect.flatMap(Fixture, ({ server, key }) => clientFor(server.baseUrl, key.key))

const isoUtc = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

/** Every value under a key named in `keys`, at any depth, is an ISO-8601 UTC timestamp (or null). */
const expectIsoTimes = (body: unknown, keys: ReadonlyArray<string> = ["time", "candleTime", "lastHeartbeat"]): number => {
  let seen = 0
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item)
    }
    else if (value !== null && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) {
        if (keys.includes(k) && v !== null) {
          expect(v, `${k}`).toMatch(isoUtc)
          seen++
        }
        visit(v)
      }
    }
  }
  visit(body)
  return seen
}

/** The meta rules of every list: count is the page's length, hasMore says whether a cursor follows. */
const expectMeta = (page: { readonly data: ReadonlyArray<unknown>; readonly meta: PublicApiMeta }) => {
  expect(page.meta.count).toBe(page.data.length)
  expect(page.meta.hasMore).toBe(page.meta.cursor !== null)
}
type PublicApiMeta = { readonly cursor: string | null; readonly hasMore: boolean; readonly count: number }

/** Follow `meta.cursor` from the first page until the last, returning every page. */
const walkPages = <A>(
  first: (cursor: string | undefined) => Effect.Effect<{ readonly data: ReadonlyArray<A>; readonly meta: PublicApiMeta }, unknown>
) =>
  Effect.gen(function* () {
    const pages: Array<ReadonlyArray<A>> = []
    let cursor: string | undefined
    for (let guard = 0; guard < 200; guard++) {
      const page = yield* first(cursor)
      expectMeta(page)
      pages.push(page.data)
      if (page.meta.cursor === null) return pages
      cursor = page.meta.cursor
    }
    throw new Error("the cursor never ended")
  })

const gradeRank = ["A", "B", "C", "D", "E"] as const

layer(FixtureLive, { excludeTestServices: true, timeout: "30 seconds" })("public API contract", (it) => {
  describe("exchanges", () => {
    it.effect("lists every catalog exchange with its live status, whitelisted", () =>
      Effect.gen(function* () {
        const { seed, server, key } = yield* Fixture
        const api = yield* client
        const page = yield* api.exchanges.listExchanges()
        const expected = seed.exchanges.map((row) =>
          S.expectedExchange(
            row,
            seed.statuses.find((s) => s.exchangeId === row.id)
          )
        )
        expect(page.data).toEqual(expected)
        expect(page.meta).toEqual({ cursor: null, hasMore: false, count: seed.exchanges.length })
        // Both sides of the mapping are exercised: one live exchange, one offline.
        expect(page.data.map((e) => e.status.state).sort()).toEqual(["active", "offline"])

        const raw = yield* S.getJson(server.port, "/public/v1/exchanges", { "x-api-key": key.key })
        expect(raw.status).toBe(200)
        expect(raw.headers["content-type"]).toMatch(/^application\/json/)
        expect(Object.keys(raw.json as object).sort()).toEqual(["data", "meta"])
        expect(expectIsoTimes(raw.json)).toBe(1)
        // The status projection's internals never reach a client.
        for (const secret of ["instance-binance", "node-7.internal", "203.0.113.7", "ops@example.com", "internal detail", "lockEpoch"]) {
          expect(raw.text).not.toContain(secret)
        }
      })
    )
  })

  describe("symbols", () => {
    it.effect("pages through each grade filter, most traded first, exactly the seeded symbols", () =>
      Effect.gen(function* () {
        const { seed } = yield* Fixture
        const api = yield* client
        for (const exchange of seed.exchanges) {
          const all = seed.symbols.get(exchange.id) ?? []
          for (const grade of [undefined, ...gradeRank]) {
            const pages = yield* walkPages((cursor) =>
              api.symbols.listSymbols({
                path: { exchange: exchange.name },
                urlParams: { limit: "3", ...(grade === undefined ? {} : { grade }), ...(cursor === undefined ? {} : { cursor }) }
              })
            )
            const expected = all
              .filter((s) => grade === undefined || gradeRank.indexOf(s.liquidityGrade) <= gradeRank.indexOf(grade))
              .map(S.expectedSymbol)
            for (const p of pages.slice(0, -1)) expect(p.length).toBe(3)
            expect(pages.flat()).toEqual(expected)
          }
        }
        // Default page size (100) holds all ten; ranks ascend with the unranked last.
        const binance = yield* api.symbols.listSymbols({ path: { exchange: "binance" }, urlParams: {} })
        expect(binance.meta).toEqual({ cursor: null, hasMore: false, count: 10 })
        const ranks = binance.data.map((s) => s.rank ?? Number.POSITIVE_INFINITY)
        expect(ranks).toEqual([...ranks].sort((a, b) => a - b))
        expect(binance.data.at(-1)?.rank).toBeNull()
      })
    )

    it.effect("refuses a cursor of another grade filter", () =>
      Effect.gen(function* () {
        const api = yield* client
        const first = yield* api.symbols.listSymbols({ path: { exchange: "binance" }, urlParams: { limit: "2", grade: "C" } })
        expect(first.meta.cursor).not.toBeNull()
        const error = yield* Effect.flip(
          api.symbols.listSymbols({
            path: { exchange: "binance" },
            urlParams: { limit: "2", grade: "B", cursor: first.meta.cursor ?? "" }
          })
        )
        expect(error).toBeInstanceOf(PublicErrors.BadRequest)
      })
    )
  })

  describe("candles", () => {
    it.effect("the first page is the newest candles, oldest first, ending with the forming one", () =>
      Effect.gen(function* () {
        const { seed, server, key } = yield* Fixture
        const api = yield* client
        const { series, candles } = seed.history
        const page = yield* api.candles.listCandles({
          path: { exchange: "binance", symbol: series.symbol, timeframe: series.timeframe },
          urlParams: {}
        })
        expect(page.data).toEqual(candles.slice(-100).map(S.expectedCandle))
        expect(page.meta.hasMore).toBe(true)
        expectMeta(page)
        expect(page.data.at(-1)?.closed).toBe(false)
        expect(page.data.slice(0, -1).every((c) => c.closed)).toBe(true)

        const raw = yield* S.getJson(server.port, `/public/v1/exchanges/binance/candles/${series.symbol}/1h?limit=1000`, {
          "x-api-key": key.key
        })
        expect(raw.status).toBe(200)
        expect(expectIsoTimes(raw.json)).toBe(candles.length)
        expect(raw.json).toEqual({
          data: candles.map(S.expectedCandle),
          meta: { cursor: null, hasMore: false, count: candles.length }
        })
        // The seed holds synthetic candles, and they are served as such.
        expect(candles.filter((c) => c.synthetic).length).toBeGreaterThan(0)
      })
    )

    it.effect("following the cursor walks the whole history back in time, without gaps or duplicates", () =>
      Effect.gen(function* () {
        const { seed } = yield* Fixture
        const api = yield* client
        const { series, candles } = seed.history
        expect(candles.length).toBeGreaterThanOrEqual(250)
        const limit = 37
        const pages = yield* walkPages((cursor) =>
          api.candles.listCandles({
            path: { exchange: "binance", symbol: series.symbol, timeframe: series.timeframe },
            urlParams: { limit: String(limit), ...(cursor === undefined ? {} : { cursor }) }
          })
        )
        expect(pages.length).toBe(Math.ceil(candles.length / limit))
        for (const p of pages.slice(0, -1)) expect(p.length).toBe(limit)
        const step = Timeframe.durationMs[series.timeframe]
        for (let i = 1; i < pages.length; i++) {
          // Page i is older than page i − 1 and ends exactly one interval before it starts.
          const newer = Date.parse(pages[i - 1]![0]!.time)
          const older = Date.parse(pages[i]!.at(-1)!.time)
          expect(newer - older).toBe(step)
        }
        const walked = [...pages].reverse().flat()
        const times = walked.map((c) => Date.parse(c.time))
        expect(new Set(times).size).toBe(times.length)
        for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(step)
        expect(walked).toEqual(candles.map(S.expectedCandle))
      })
    )

    it.effect("a range [from, to] pages back within the range only", () =>
      Effect.gen(function* () {
        const { seed } = yield* Fixture
        const api = yield* client
        const { series, candles } = seed.history
        const from = new Date(candles[50]!.openTime).toISOString()
        // `to` in another notation: an offset, no milliseconds.
        const toMs = candles[200]!.openTime
        const to = new Date(toMs + 2 * 3_600_000).toISOString().replace(/\.000Z$/, "+02:00")
        const pages = yield* walkPages((cursor) =>
          api.candles.listCandles({
            path: { exchange: "binance", symbol: series.symbol, timeframe: series.timeframe },
            urlParams: { from, to, limit: "40", ...(cursor === undefined ? {} : { cursor }) }
          })
        )
        expect([...pages].reverse().flat()).toEqual(candles.slice(50, 201).map(S.expectedCandle))

        // A date-only `from` is midnight UTC.
        const day = new Date(candles.at(-1)!.openTime).toISOString().slice(0, 10)
        const today = yield* api.candles.listCandles({
          path: { exchange: "binance", symbol: series.symbol, timeframe: series.timeframe },
          urlParams: { from: day, limit: "1000" }
        })
        expect(today.data).toEqual(candles.filter((c) => c.openTime >= Date.parse(`${day}T00:00:00Z`)).map(S.expectedCandle))
      })
    )

    it.effect("a cursor belongs to its query: another range, series or endpoint is refused", () =>
      Effect.gen(function* () {
        const { seed } = yield* Fixture
        const api = yield* client
        const { series } = seed.history
        const path = { exchange: "binance", symbol: series.symbol, timeframe: series.timeframe }
        const first = yield* api.candles.listCandles({ path, urlParams: { limit: "10" } })
        const cursor = first.meta.cursor ?? ""
        const second = yield* api.candles.listCandles({ path, urlParams: { limit: "10", cursor } })
        expect(second.data.length).toBe(10)
        const misuses: ReadonlyArray<Effect.Effect<unknown, unknown>> = [
          api.candles.listCandles({ path, urlParams: { limit: "10", cursor, from: "2026-11-01" } }),
          api.candles.listCandles({ path: { ...path, timeframe: "5m" }, urlParams: { limit: "10", cursor } }),
          api.candles.listCandles({ path: { ...path, symbol: "ETHUSDT" }, urlParams: { limit: "10", cursor } }),
          api.symbols.listSymbols({ path: { exchange: "binance" }, urlParams: { cursor } }),
          api.alerts.listAlerts({ urlParams: { cursor } }),
          api.candles.listCandles({ path, urlParams: { cursor: cursor.slice(0, -3) } })
        ]
        for (const misuse of misuses) {
          const error = yield* Effect.flip(misuse)
          expect(error).toBeInstanceOf(PublicErrors.BadRequest)
          expect((error as PublicErrors.BadRequest).message).toMatch(/cursor/)
        }
      })
    )
  })

  describe("signals", () => {
    it.effect("one generic reading per served timeframe, from the indicator records", () =>
      Effect.gen(function* () {
        const { seed, server, key } = yield* Fixture
        const api = yield* client
        const recordFor = (exchangeId: number, symbol: string, timeframe: Timeframe.Timeframe) =>
          seed.records.find(
            (r) => r.series.exchangeId === exchangeId && r.series.symbol === symbol && r.series.timeframe === timeframe
          )?.record
        const qualities = new Set<string>()
        const directions = new Set<string>()
        const cases: ReadonlyArray<readonly [PublicCatalog.CatalogExchange, string]> = [
          [seed.exchanges[0]!, "BTCUSDT"],
          [seed.exchanges[0]!, "ETHUSDT"],
          [seed.exchanges[0]!, "SOLUSDT"],
          [seed.exchanges[1]!, "BTC-USD"]
        ]
        for (const [exchange, symbol] of cases) {
          const page = yield* api.signals.listSignals({ path: { exchange: exchange.name, symbol }, urlParams: {} })
          const expected = exchange.timeframes.map((tf) => S.expectedSignal(exchange.name, symbol, tf, recordFor(exchange.id, symbol, tf)))
          expect(page.data).toEqual(expected)
          expect(page.meta).toEqual({ cursor: null, hasMore: false, count: exchange.timeframes.length })
          for (const s of page.data) {
            qualities.add(s.quality)
            directions.add(s.trend_signal.direction).add(s.momentum_signal.direction)
          }
          for (const tf of exchange.timeframes) {
            const one = yield* api.signals.listSignals({ path: { exchange: exchange.name, symbol }, urlParams: { timeframe: tf } })
            expect(one.data).toEqual([S.expectedSignal(exchange.name, symbol, tf, recordFor(exchange.id, symbol, tf))])
          }
        }
        // The seed is rich enough that every branch of the mapping is compared, not only the defaults.
        expect([...qualities].sort()).toEqual(["live", "stale", "unavailable", "warming_up"])
        expect([...directions].sort()).toEqual(["bearish", "bullish", "neutral"])

        const raw = yield* S.getJson(server.port, "/public/v1/exchanges/binance/signals/BTCUSDT", { "x-api-key": key.key })
        expect(expectIsoTimes(raw.json)).toBeGreaterThan(0)
      })
    )
  })

  describe("alerts", () => {
    const streamOrder = (a: string, b: string): number => {
      const [am, as] = a.split("-").map(BigInt) as [bigint, bigint]
      const [bm, bs] = b.split("-").map(BigInt) as [bigint, bigint]
      return am === bm ? Number(as - bs) : am < bm ? -1 : 1
    }

    it.effect("newest first; the cursor walks the feed exactly once", () =>
      Effect.gen(function* () {
        const { seed, server, key } = yield* Fixture
        const api = yield* client
        const all = yield* api.alerts.listAlerts({ urlParams: { limit: "500" } })
        expect(all.meta).toEqual({ cursor: null, hasMore: false, count: seed.alerts.length })
        expect(all.data.map(({ id: _id, ...rest }) => rest)).toEqual([...seed.alerts].reverse().map(S.expectedAlert))
        const ids = all.data.map((a) => a.id)
        for (let i = 1; i < ids.length; i++) expect(streamOrder(ids[i - 1]!, ids[i]!)).toBeGreaterThan(0)

        const pages = yield* walkPages((cursor) =>
          api.alerts.listAlerts({ urlParams: { limit: "7", ...(cursor === undefined ? {} : { cursor }) } })
        )
        expect(pages.length).toBe(Math.ceil(seed.alerts.length / 7))
        expect(pages.flat()).toEqual(all.data)

        const raw = yield* S.getJson(server.port, "/public/v1/alerts?limit=500", { "x-api-key": key.key })
        expect(expectIsoTimes(raw.json)).toBe(2 * seed.alerts.length)
        // Internal fields of an alert (the value, its details) are not served.
        for (const field of ["value", "details", "bias", "valuesByTimeframe", "label", "exchangeId"]) {
          expect(raw.text).not.toContain(`"${field}"`)
        }
      })
    )

    it.effect("filters, alone and combined, with their own cursors", () =>
      Effect.gen(function* () {
        const { seed } = yield* Fixture
        const api = yield* client
        const times = seed.alerts.map((a) => DateTime.toEpochMillis(a.triggeredAt))
        const from = new Date(times[10]!).toISOString()
        const to = new Date(times[30]!).toISOString()
        type Filter = {
          exchange?: string
          symbol?: string
          timeframe?: string
          signalType?: string
          direction?: string
          from?: string
          to?: string
        }
        const filters: ReadonlyArray<Filter> = [
          { exchange: "binance" },
          { exchange: "coinbase", direction: "bearish" },
          { symbol: "BTCUSDT" },
          { timeframe: "1h" },
          { signalType: "momentum_reversal" },
          { signalType: "momentum_threshold", direction: "bullish" },
          { from, to },
          { exchange: "binance", symbol: "ETHUSDT", from },
          { symbol: "NOSUCH" }
        ]
        const nonEmpty: Array<number> = []
        for (const filter of filters) {
          const expected = [...seed.alerts]
            .reverse()
            .filter(
              (a) =>
                (filter.exchange === undefined || a.exchangeName === filter.exchange) &&
                (filter.symbol === undefined || a.symbol === filter.symbol) &&
                (filter.timeframe === undefined || a.timeframe === filter.timeframe) &&
                (filter.signalType === undefined || S.alertTypeOf(a.label) === filter.signalType) &&
                (filter.direction === undefined || S.alertDirectionOf(a.label) === filter.direction) &&
                (filter.from === undefined || DateTime.toEpochMillis(a.triggeredAt) >= Date.parse(filter.from)) &&
                (filter.to === undefined || DateTime.toEpochMillis(a.triggeredAt) <= Date.parse(filter.to))
            )
            .map(S.expectedAlert)
          const pages = yield* walkPages((cursor) =>
            api.alerts.listAlerts({ urlParams: { ...filter, limit: "4", ...(cursor === undefined ? {} : { cursor }) } })
          )
          expect(pages.flat().map(({ id: _id, ...rest }) => rest), JSON.stringify(filter)).toEqual(expected)
          nonEmpty.push(expected.length)
        }
        // Each filter but the last selects something and leaves something out.
        for (const n of nonEmpty.slice(0, -1)) {
          expect(n).toBeGreaterThan(0)
          expect(n).toBeLessThan(seed.alerts.length)
        }

        const binance = yield* api.alerts.listAlerts({ urlParams: { exchange: "binance", limit: "3" } })
        const misuse = yield* Effect.flip(
          api.alerts.listAlerts({ urlParams: { exchange: "coinbase", limit: "3", cursor: binance.meta.cursor ?? "" } })
        )
        expect(misuse).toBeInstanceOf(PublicErrors.BadRequest)
      })
    )
  })

  describe("errors", () => {
    it.effect("reach the derived client as the typed error classes", () =>
      Effect.gen(function* () {
        const { server } = yield* Fixture
        const api = yield* client
        const candles = (exchange: string, symbol: string, timeframe: string, urlParams: Record<string, string> = {}) =>
          Effect.flip(api.candles.listCandles({ path: { exchange, symbol, timeframe }, urlParams }))

        const notFound = [
          yield* candles("krakken", "BTCUSDT", "1h"),
          yield* candles("binance", "NOPEUSDT", "1h"),
          yield* candles("coinbase", "BTC-USD", "4h"),
          yield* Effect.flip(api.symbols.listSymbols({ path: { exchange: "krakken" }, urlParams: {} })),
          yield* Effect.flip(api.signals.listSignals({ path: { exchange: "binance", symbol: "NOPEUSDT" }, urlParams: {} })),
          yield* Effect.flip(api.alerts.listAlerts({ urlParams: { exchange: "krakken" } }))
        ]
        for (const error of notFound) expect(error).toBeInstanceOf(PublicErrors.NotFound)
        expect((notFound[0] as PublicErrors.NotFound).message).toContain("krakken")

        const badRequest = [
          yield* candles("binance", "BTCUSDT", "2h"),
          yield* candles("binance", "BTCUSDT", "1h", { limit: "0" }),
          yield* candles("binance", "BTCUSDT", "1h", { limit: "1001" }),
          yield* candles("binance", "BTCUSDT", "1h", { from: "2026-11-21", to: "2026-11-20" }),
          yield* candles("binance", "BTCUSDT", "1h", { from: "yesterday" }),
          // (The derived client does not percent-encode path parameters, so "BTC/USDT" would be two segments.)
          yield* candles("binance", "BTC USDT", "1h"),
          yield* Effect.flip(api.symbols.listSymbols({ path: { exchange: "binance" }, urlParams: { grade: "F" } })),
          yield* Effect.flip(api.alerts.listAlerts({ urlParams: { direction: "sideways" } }))
        ]
        for (const error of badRequest) {
          expect(error).toBeInstanceOf(PublicErrors.BadRequest)
          expect((error as PublicErrors.BadRequest).message.length).toBeGreaterThan(10)
        }

        const anonymous = yield* clientFor(server.baseUrl, undefined)
        expect(yield* Effect.flip(anonymous.exchanges.listExchanges())).toBeInstanceOf(PublicErrors.Unauthorized)
        const stranger = yield* clientFor(server.baseUrl, "00000000-0000-4000-8000-000000000000")
        expect(yield* Effect.flip(stranger.exchanges.listExchanges())).toBeInstanceOf(PublicErrors.Unauthorized)
      })
    )

    it.effect("are the envelope on the wire, with the status's code", () =>
      Effect.gen(function* () {
        const { server, key } = yield* Fixture
        const cases: ReadonlyArray<readonly [string, number]> = [
          ["/public/v1/exchanges/krakken/symbols", 404],
          ["/public/v1/exchanges/binance/candles/NOPEUSDT/1h", 404],
          ["/public/v1/exchanges/binance/candles/BTCUSDT/2h", 400],
          ["/public/v1/exchanges/binance/candles/BTCUSDT/1h?limit=abc", 400],
          ["/public/v1/no/such/endpoint", 404]
        ]
        for (const [path, status] of cases) {
          const res = yield* S.getJson(server.port, path, { "x-api-key": key.key })
          expect(res.status, path).toBe(status)
          expect(S.envelopeProblem(res.json), path).toBeUndefined()
          expect((res.json as { error: { code: string } }).error.code).toBe(S.codeForStatus[status])
        }
      })
    )

    it.effect("HEAD answers like GET without a body; a HEAD nothing serves is 404", () =>
      Effect.gen(function* () {
        const { server, key } = yield* Fixture
        const head = (path: string) => S.raw(server.port, { method: "HEAD", path, headers: { "x-api-key": key.key } })
        for (const path of ["/public/v1/exchanges", "/public/v1/exchanges/binance/candles/BTCUSDT/1h?limit=5"]) {
          const res = yield* head(path)
          expect(res.status, path).toBe(200)
          expect(res.headers["content-type"], path).toMatch(/^application\/json/)
          expect(res.text, path).toBe("")
        }
        expect((yield* head("/public/v1/no/such/endpoint")).status).toBe(404)
        expect((yield* head("/public/v1/exchanges/binance/candles/NOPEUSDT/1h")).status).toBe(404)
      })
    )
  })
})
