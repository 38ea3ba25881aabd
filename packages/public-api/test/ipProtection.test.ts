/**
 * IP protection (domain.md §8): nothing public names the proprietary indicator. The OpenAPI document, the docs
 * page, the real responses of every endpoint over data that holds indicator records and alerts, and the error
 * responses are scanned for the indicator's field names (as JSON keys, any depth, any case) and for the words
 * MACD, EMA and ATR anywhere in the text. The scanner is itself tested against planted leaks, so the scan cannot
 * pass by finding nothing to look at. Also: the OpenAPI document is 3.1 and documents itself.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as S from "./support.js"

// ---------------------------------------------------------------------------------------------------------------
// The scanner

const forbiddenKeys = ["macdv", "signal", "histogram", "fastema", "slowema", "atr", "informativeatr"]

/** Every leak in `text` (the whole body); JSON keys are checked too when `text` is JSON. */
const scan = (text: string): ReadonlyArray<string> => {
  const found: Array<string> = []
  const visit = (value: unknown, path: string): void => {
    if (Array.isArray(value)) {
      for (const [i, v] of value.entries()) visit(v, `${path}[${i}]`)
    } else if (value !== null && typeof value === "object") {
      for (const [key, v] of Object.entries(value)) {
        if (forbiddenKeys.includes(key.toLowerCase())) found.push(`key "${key}" at ${path || "$"}`)
        visit(v, `${path}.${key}`)
      }
    }
  }
  const json = S.parseJson(text)
  if (json !== undefined) visit(json, "")
  const context = (index: number) => JSON.stringify(text.slice(Math.max(0, index - 30), index + 30))
  for (const [name, pattern] of [
    ["/macd/i", /macd/gi],
    ["/\\b(ema|atr)\\b/i", /\b(ema|atr)\b/gi],
    ["/EMA|ATR/", /EMA|ATR/g]
  ] as const) {
    for (const match of text.matchAll(pattern)) found.push(`${name} matches "${match[0]}" in ${context(match.index)}`)
  }
  return found
}

describe("the scanner", () => {
  it("flags planted leaks, at any depth and in any case", () => {
    expect(scan('{"macdV":1}').join()).toMatch(/key "macdV"/)
    expect(scan('{"macdV":1}').join()).toMatch(/macd\/i/)
    expect(scan('{"note":"fastEMA"}').join()).toMatch(/\/EMA\|ATR\/ matches "EMA"/)
    expect(scan('{"a":{"b":[{"ATR":2.5}]}}').join()).toMatch(/key "ATR" at \.a\.b\[0\]/)
    expect(scan('{"Signal":1,"HISTOGRAM":2,"slowEma":3,"informativeAtr":4}').filter((f) => f.startsWith("key")).length).toBe(4)
    expect(scan('{"note":"smoothed with an ema of 12"}').length).toBeGreaterThan(0)
    expect(scan('{"note":"the atr widened"}').length).toBeGreaterThan(0)
    expect(scan("<p>MACD-V</p>").length).toBeGreaterThan(0)
    expect(scan("plain text with Atr in it").length).toBeGreaterThan(0)
  })

  it("does not flag what merely contains the letters", () => {
    expect(scan('{"schema":"theme","signalType":"x","momentum_signal":{},"trend_signal":{},"attribute":"Seattle"}')).toEqual([])
  })
})

// ---------------------------------------------------------------------------------------------------------------
// Everything public

class Fixture extends Context.Tag("test/IpFixture")<
  Fixture,
  {
    readonly server: S.TestServer
    readonly tight: S.TestServer
    readonly seed: S.Seed
    readonly key: S.SeedKey
    readonly tightKey: S.SeedKey
  }
>() {}

const FixtureLive = Layer.scoped(
  Fixture,
  Effect.gen(function* () {
    const prefix = S.freshPrefix("ip")
    yield* S.cleanupNamespace(prefix)
    const server = yield* S.startServer({ prefix, requestsPerMinute: 6000, corsOrigins: ["https://app.example.com"] })
    // Another instance with a budget of one request a minute, for a real 429.
    const tight = yield* S.startServer({ prefix, requestsPerMinute: 1 })
    const seed = S.makeSeed()
    yield* S.seedAll(server, seed)
    const key = S.makeKey(31, "ip")
    const tightKey = S.makeKey(32, "ip, tight")
    yield* S.seedKeys(server, [key, tightKey])
    return { server, tight, seed, key, tightKey }
  })
)

/** A body to scan, named by how it was obtained. */
interface Body {
  readonly name: string
  readonly status: number
  readonly text: string
}

/**
 * Alert cursors encode Redis stream ids, which are the time of the run: base64 of them could spell "EMA" by
 * chance (about once in several thousand runs). Their decoded content is scanned instead of the encoding;
 * every other cursor is deterministic and scanned as sent, and decoded as well.
 */
const decodeCursors = (text: string, keepEncoded: boolean): string =>
  text.replace(/"cursor":"([A-Za-z0-9_-]+)"/g, (_all, cursor: string) => {
    const decoded = JSON.stringify(Buffer.from(cursor, "base64url").toString("utf8"))
    return keepEncoded ? `"cursor":"${cursor}","cursorDecoded":${decoded}` : `"cursor":${decoded}`
  })

layer(FixtureLive, { excludeTestServices: true, timeout: "30 seconds" })("IP protection", (it) => {
  it.effect("no public response, schema or page names the indicator", () =>
    Effect.gen(function* () {
      const { server, tight, seed, key, tightKey } = yield* Fixture
      const bodies: Array<Body> = []
      const fetchBody = (name: string, path: string, headers: Record<string, string> = { "x-api-key": key.key }, on = server) =>
        Effect.map(S.raw(on.port, { method: "GET", path, headers }), (res) => {
          const text = path.startsWith("/public/v1/alerts") ? decodeCursors(res.text, false) : decodeCursors(res.text, true)
          bodies.push({ name, status: res.status, text })
          return res
        })

      yield* fetchBody("openapi.json", "/public/v1/openapi.json", {})
      yield* fetchBody("docs page", "/public/v1/docs", {})
      yield* fetchBody("exchanges", "/public/v1/exchanges")
      for (const exchange of seed.exchanges) {
        yield* fetchBody(`symbols ${exchange.name}`, `/public/v1/exchanges/${exchange.name}/symbols`)
        yield* fetchBody(`symbols ${exchange.name} page`, `/public/v1/exchanges/${exchange.name}/symbols?limit=2`)
        for (const symbol of seed.symbols.get(exchange.id) ?? []) {
          yield* fetchBody(`signals ${exchange.name} ${symbol.symbol}`, `/public/v1/exchanges/${exchange.name}/signals/${symbol.symbol}`)
        }
      }
      for (const { series } of [seed.history, ...seed.otherSeries]) {
        const exchange = seed.exchanges.find((e) => e.id === series.exchangeId)!.name
        const base = `/public/v1/exchanges/${exchange}`
        yield* fetchBody(`candles ${series.symbol} ${series.timeframe}`, `${base}/candles/${series.symbol}/${series.timeframe}?limit=1000`)
        yield* fetchBody(`candles ${series.symbol} ${series.timeframe} page`, `${base}/candles/${series.symbol}/${series.timeframe}?limit=10`)
        yield* fetchBody(
          `signals ${series.symbol} ${series.timeframe}`,
          `${base}/signals/${series.symbol}?timeframe=${series.timeframe}`
        )
      }
      yield* fetchBody("alerts", "/public/v1/alerts?limit=500")
      yield* fetchBody("alerts page", "/public/v1/alerts?limit=5")
      for (const query of ["signalType=momentum_reversal", "signalType=momentum_threshold&direction=bearish", "exchange=coinbase"]) {
        yield* fetchBody(`alerts ${query}`, `/public/v1/alerts?${query}&limit=3`)
      }

      // Error responses of every kind that can be provoked.
      yield* fetchBody("400 limit", "/public/v1/exchanges/binance/candles/BTCUSDT/1h?limit=0")
      yield* fetchBody("400 timeframe", "/public/v1/exchanges/binance/candles/BTCUSDT/2h")
      yield* fetchBody("400 cursor", "/public/v1/alerts?cursor=Zm9v")
      yield* fetchBody("400 range", "/public/v1/alerts?from=2026-11-02&to=2026-11-01")
      yield* fetchBody("401 missing", "/public/v1/exchanges", {})
      yield* fetchBody("401 malformed", "/public/v1/exchanges", { "x-api-key": "nope" })
      yield* fetchBody("404 exchange", "/public/v1/exchanges/krakken/symbols")
      yield* fetchBody("404 symbol", "/public/v1/exchanges/binance/signals/NOPEUSDT")
      yield* fetchBody("404 route", "/public/v1/indicators")
      yield* fetchBody("the tight instance's one request", "/public/v1/exchanges", { "x-api-key": tightKey.key }, tight)
      yield* fetchBody("429", "/public/v1/exchanges", { "x-api-key": tightKey.key }, tight)

      expect(bodies.length).toBeGreaterThan(50)
      const statuses = new Set(bodies.map((b) => b.status))
      for (const status of [200, 400, 401, 404, 429]) expect(statuses, `a ${status} was scanned`).toContain(status)
      // The data scanned holds what the indicator produced: values behind every quality, and alerts.
      const signals = bodies.filter((b) => b.name.startsWith("signals")).map((b) => b.text).join()
      for (const quality of ["live", "stale", "warming_up", "unavailable"]) expect(signals).toContain(`"quality":"${quality}"`)
      expect(bodies.find((b) => b.name === "alerts")?.text).toContain('"signalType":"momentum_reversal"')
      expect(bodies.find((b) => b.name === "openapi.json")?.text.length).toBeGreaterThan(10_000)

      const leaks = bodies.flatMap((b) => scan(b.text).map((leak) => `${b.name} (${b.status}): ${leak}`))
      expect(leaks).toEqual([])
    })
  )

  describe("the OpenAPI document", () => {
    const openApi = Effect.gen(function* () {
      const { server } = yield* Fixture
      const res = yield* S.getJson(server.port, "/public/v1/openapi.json")
      expect(res.status).toBe(200)
      return res.json as {
        readonly openapi: string
        readonly paths: Record<string, Record<string, Operation>>
        readonly components: {
          readonly schemas: Record<string, SchemaObject>
          readonly securitySchemes: Record<string, Record<string, unknown>>
        }
      }
    })
    interface Operation {
      readonly summary?: string
      readonly description?: string
      readonly security?: ReadonlyArray<Record<string, unknown>>
      readonly responses: Record<string, { readonly content?: Record<string, { readonly schema?: unknown }> }>
    }
    interface SchemaObject {
      readonly description?: string
      readonly examples?: ReadonlyArray<unknown>
      readonly example?: unknown
      readonly properties?: Record<string, unknown>
      readonly required?: ReadonlyArray<string>
    }

    it.effect("is OpenAPI 3.1, with the API-key scheme on every operation", () =>
      Effect.gen(function* () {
        const doc = yield* openApi
        expect(doc.openapi).toMatch(/^3\.1\.\d+$/)
        expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: "apiKey", in: "header", name: "X-API-Key" })
        const operations = Object.values(doc.paths).flatMap((ops) => Object.values(ops))
        expect(operations.length).toBe(5)
        for (const operation of operations) expect(operation.security).toEqual([{ apiKey: [] }])
      })
    )

    it.effect("every component schema has a description and an example", () =>
      Effect.gen(function* () {
        const doc = yield* openApi
        const missing: Array<string> = []
        for (const [name, schema] of Object.entries(doc.components.schemas)) {
          if (typeof schema.description !== "string" || schema.description.trim() === "") missing.push(`${name}: no description`)
          const hasExample = (Array.isArray(schema.examples) && schema.examples.length > 0) || schema.example !== undefined
          if (!hasExample) missing.push(`${name}: no example`)
        }
        expect(missing).toEqual([])
      })
    )

    it.effect("every operation has a summary and a description", () =>
      Effect.gen(function* () {
        const doc = yield* openApi
        for (const [path, operations] of Object.entries(doc.paths)) {
          for (const [method, operation] of Object.entries(operations)) {
            expect(operation.summary?.trim(), `${method} ${path}`).toBeTruthy()
            expect(operation.description?.trim(), `${method} ${path}`).toBeTruthy()
          }
        }
      })
    )

    it.effect("every error response is the envelope; a 400 references only BadRequestError", () =>
      Effect.gen(function* () {
        const doc = yield* openApi
        const refOf = (schema: unknown): string | undefined =>
          schema !== null && typeof schema === "object" && "$ref" in schema && typeof schema.$ref === "string" ? schema.$ref : undefined
        for (const [path, operations] of Object.entries(doc.paths)) {
          for (const [method, operation] of Object.entries(operations)) {
            const at = `${method} ${path}`
            const badRequest = operation.responses["400"]
            expect(badRequest, at).toBeDefined()
            expect(Object.keys(badRequest?.content ?? {}), at).toEqual(["application/json"])
            expect(badRequest?.content?.["application/json"]?.schema, at).toEqual({ $ref: "#/components/schemas/BadRequestError" })
            for (const [status, response] of Object.entries(operation.responses)) {
              if (!status.startsWith("4") && !status.startsWith("5")) continue
              for (const media of Object.values(response.content ?? {})) {
                const ref = refOf(media.schema)
                expect(ref, `${at} ${status}`).toBeDefined()
                const schema = doc.components.schemas[ref!.replace("#/components/schemas/", "")]
                expect(schema?.required, `${at} ${status}`).toEqual(["error"])
                expect(Object.keys(schema?.properties ?? {}), `${at} ${status}`).toEqual(["error"])
                const error = schema?.properties?.error as SchemaObject | undefined
                expect([...(error?.required ?? [])].sort(), `${at} ${status}`).toEqual(["code", "message"])
              }
            }
          }
        }
        expect(Object.keys(doc.components.schemas)).not.toContain("HttpApiDecodeError")
      })
    )
  })
})
