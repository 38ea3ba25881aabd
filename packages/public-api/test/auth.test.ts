/**
 * Authentication, the per-key rate limit shared by every instance, and CORS, on real servers over the real Redis.
 * Three server instances (separate layers, ports, Redis connections and limiter stores) share one namespace, as
 * the nodes of one deployment share one Redis.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { Keys } from "@livermore/cache"
import { ApiKeys } from "../src/index.js"
import * as S from "./support.js"

const allowedOrigin = "https://app.example.com"

class Fixture extends Context.Tag("test/AuthFixture")<
  Fixture,
  {
    readonly a: S.TestServer
    readonly b: S.TestServer
    /** A third instance, with CORS for `allowedOrigin`. */
    readonly cors: S.TestServer
    /** An instance whose limit does not divide a minute into whole milliseconds. */
    readonly odd: S.TestServer
    readonly oddKey: S.SeedKey
    readonly hammered: S.SeedKey
    readonly bystander: S.SeedKey
    readonly revoked: S.SeedKey
  }
>() {}

const FixtureLive = Layer.scoped(
  Fixture,
  Effect.gen(function* () {
    const prefix = S.freshPrefix("auth")
    yield* S.cleanupNamespace(prefix)
    // The real limit: no requestsPerMinute override.
    const a = yield* S.startServer({ prefix })
    const b = yield* S.startServer({ prefix })
    const cors = yield* S.startServer({ prefix, corsOrigins: [allowedOrigin] })
    const odd = yield* S.startServer({ prefix, requestsPerMinute: 7 })
    expect(new Set([a.port, b.port, cors.port, odd.port]).size).toBe(4)
    yield* S.seedAll(a, S.makeSeed())
    const hammered = S.makeKey(11, "hammered")
    const bystander = S.makeKey(12, "bystander")
    const revoked = S.makeKey(13, "revoked")
    const oddKey = S.makeKey(14, "odd")
    yield* S.seedKeys(a, [hammered, bystander, revoked, oddKey])
    return { a, b, cors, odd, oddKey, hammered, bystander, revoked }
  })
)

const integer = /^\d+$/

/** The answer is an error envelope with the code of its status. */
const expectEnvelope = (res: S.RawResponse, status: number, context = "") => {
  expect(res.status, `${context} ${res.text}`).toBe(status)
  expect(res.headers["content-type"], context).toMatch(/^application\/json/)
  const body = S.parseJson(res.text)
  expect(S.envelopeProblem(body), context).toBeUndefined()
  expect((body as { error: { code: string } }).error.code, context).toBe(S.codeForStatus[status])
  return (body as { error: { message: string } }).error.message
}

layer(FixtureLive, { excludeTestServices: true, timeout: "30 seconds" })("public API auth", (it) => {
  describe("rate limit", () => {
    it.effect("300 requests a minute per key, counted across instances; the 301st is 429 with Retry-After", () =>
      Effect.gen(function* () {
        const { a, b, cors, hammered, bystander } = yield* Fixture
        const limit = 300
        for (let n = 1; n <= limit; n++) {
          const server = n % 2 === 1 ? a : b
          const res = yield* S.raw(server.port, { method: "GET", path: "/public/v1/exchanges", headers: { "x-api-key": hammered.key } })
          expect(res.status, `request ${n}`).toBe(200)
          expect(res.headers["ratelimit-limit"]).toBe(String(limit))
          // Remaining falls by one per request, whichever instance answers: one count in Redis.
          expect(res.headers["ratelimit-remaining"], `request ${n}`).toBe(String(limit - n))
          expect(res.headers["ratelimit-reset"]).toMatch(integer)
          expect(res.headers["retry-after"]).toBeUndefined()
        }

        for (const [server, name] of [
          [a, "a"],
          [b, "b"]
        ] as const) {
          const res = yield* S.raw(server.port, { method: "GET", path: "/public/v1/exchanges", headers: { "x-api-key": hammered.key } })
          const message = expectEnvelope(res, 429, `instance ${name}`)
          expect(message).toMatch(/rate limit/i)
          const retryAfter = res.headers["retry-after"]
          expect(retryAfter).toMatch(integer)
          expect(Number(retryAfter)).toBeGreaterThanOrEqual(1)
          expect(Number(retryAfter)).toBeLessThanOrEqual(60)
          expect(res.headers["ratelimit-limit"]).toBe(String(limit))
          expect(res.headers["ratelimit-remaining"]).toBe("0")
          expect(res.headers["ratelimit-reset"]).toMatch(integer)
          expect(Number(res.headers["ratelimit-reset"])).toBeGreaterThanOrEqual(1)
        }

        // Every endpoint is behind the same budget.
        const candles = yield* S.raw(b.port, {
          method: "GET",
          path: "/public/v1/exchanges/binance/candles/BTCUSDT/1h",
          headers: { "x-api-key": hammered.key }
        })
        expectEnvelope(candles, 429, "candles")

        // A browser can read the 429 and its Retry-After from the allowed origin.
        const fromBrowser = yield* S.raw(cors.port, {
          method: "GET",
          path: "/public/v1/alerts",
          headers: { "x-api-key": hammered.key, origin: allowedOrigin }
        })
        expectEnvelope(fromBrowser, 429, "cors instance")
        expect(fromBrowser.headers["access-control-allow-origin"]).toBe(allowedOrigin)
        expect(String(fromBrowser.headers["access-control-expose-headers"]).toLowerCase()).toContain("retry-after")

        // Another key has its own budget, on every instance.
        for (const server of [a, b]) {
          const other = yield* S.raw(server.port, { method: "GET", path: "/public/v1/exchanges", headers: { "x-api-key": bystander.key } })
          expect(other.status).toBe(200)
        }
        const third = yield* S.raw(a.port, { method: "GET", path: "/public/v1/exchanges", headers: { "x-api-key": bystander.key } })
        expect(third.headers["ratelimit-remaining"]).toBe(String(limit - 3))
      }),
    // 302 requests over HTTP: about 1.5 s alone, more beside other test files.
    30_000
    )
  })

  describe("rate limit configuration", () => {
    it.effect("a limit that does not divide a minute into whole milliseconds (7/min) is enforced, not a 503", () =>
      Effect.gen(function* () {
        const { odd, oddKey } = yield* Fixture
        const get = S.raw(odd.port, { method: "GET", path: "/public/v1/exchanges", headers: { "x-api-key": oddKey.key } })
        for (let n = 1; n <= 7; n++) {
          const res = yield* get
          expect(res.status, `request ${n}: ${res.text}`).toBe(200)
          expect(res.headers["ratelimit-remaining"]).toBe(String(7 - n))
        }
        const refused = yield* get
        expectEnvelope(refused, 429, "8th request")
        expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(1)
      })
    )
  })

  describe("authentication", () => {
    const paths = [
      "/public/v1/exchanges",
      "/public/v1/exchanges/binance/symbols",
      "/public/v1/exchanges/binance/candles/BTCUSDT/1h",
      "/public/v1/exchanges/binance/signals/BTCUSDT",
      "/public/v1/alerts"
    ]

    it.effect("no key, a malformed key or an unknown key is 401 in the envelope, on every endpoint", () =>
      Effect.gen(function* () {
        const { a, b, bystander } = yield* Fixture
        const cases: ReadonlyArray<readonly [string, Record<string, string>]> = [
          ["missing", {}],
          ["empty", { "x-api-key": "" }],
          ["blank", { "x-api-key": "   " }],
          ["not a uuid", { "x-api-key": "not-a-key" }],
          ["short uuid", { "x-api-key": bystander.key.slice(0, -1) }],
          ["braced uuid", { "x-api-key": `{${bystander.key}}` }],
          ["two keys", { "x-api-key": `${bystander.key},${bystander.key}` }],
          ["hash instead of key", { "x-api-key": bystander.row.keyHash }],
          ["unknown uuid", { "x-api-key": crypto.randomUUID() }],
          ["wrong header", { authorization: `Bearer ${bystander.key}` }],
          ["as a query parameter", {}]
        ]
        for (const [name, headers] of cases) {
          for (const [i, path] of paths.entries()) {
            const server = i % 2 === 0 ? a : b
            const target = name === "as a query parameter" ? `${path}?api_key=${bystander.key}` : path
            const res = yield* S.raw(server.port, { method: "GET", path: target, headers })
            const message = expectEnvelope(res, 401, `${name} ${path}`)
            expect(message).toMatch(/key/i)
            // The key is never echoed back.
            expect(res.text).not.toContain(bystander.key)
          }
        }
      })
    )

    it.effect("a revoked key works until it leaves the catalog and the change is published, then is 401 on every instance", () =>
      Effect.gen(function* () {
        const { a, b, revoked } = yield* Fixture
        const get = (server: S.TestServer) =>
          S.raw(server.port, { method: "GET", path: "/public/v1/exchanges", headers: { "x-api-key": revoked.key } })
        expect((yield* get(a)).status).toBe(200)
        expect((yield* get(b)).status).toBe(200)
        // Out of the catalog but not yet announced: each server still trusts the key it verified moments ago.
        yield* a.catalog.removeApiKey(revoked.row.keyHash).pipe(Effect.orDie)
        expect((yield* get(a)).status).toBe(200)
        expect((yield* get(b)).status).toBe(200)
        // What `livermore api-keys revoke` does after updating Postgres and the catalog.
        yield* a.bus.publish(Keys.apiKeysChangedChannel, ApiKeys.ApiKeysChanged, "changed").pipe(Effect.orDie)
        for (const server of [a, b]) {
          let answer = yield* get(server)
          for (let tries = 0; answer.status === 200 && tries < 100; tries++) {
            yield* Effect.sleep("20 millis")
            answer = yield* get(server)
          }
          const message = expectEnvelope(answer, 401, "revoked")
          expect(message).toMatch(/revoked|unknown/i)
        }
      })
    )
  })

  describe("CORS", () => {
    const preflight = (server: S.TestServer, origin: string) =>
      S.raw(server.port, {
        method: "OPTIONS",
        path: "/public/v1/exchanges/binance/candles/BTCUSDT/1h",
        headers: { origin, "access-control-request-method": "GET", "access-control-request-headers": "x-api-key" }
      })

    it.effect("a preflight from a configured origin is allowed, from any other origin it is not", () =>
      Effect.gen(function* () {
        const { a, cors, bystander } = yield* Fixture
        const allowed = yield* preflight(cors, allowedOrigin)
        expect(allowed.status).toBeGreaterThanOrEqual(200)
        expect(allowed.status).toBeLessThan(300)
        expect(allowed.headers["access-control-allow-origin"]).toBe(allowedOrigin)
        expect(String(allowed.headers["access-control-allow-methods"])).toMatch(/\bGET\b/)
        expect(String(allowed.headers["access-control-allow-headers"]).toLowerCase()).toContain("x-api-key")

        for (const origin of ["https://evil.example.com", "https://app.example.com.evil.com", "http://app.example.com", "null"]) {
          const refused = yield* preflight(cors, origin)
          expect(refused.headers["access-control-allow-origin"], origin).toBeUndefined()
        }
        // An instance configured without origins allows none.
        expect((yield* preflight(a, allowedOrigin)).headers["access-control-allow-origin"]).toBeUndefined()

        // The actual request: the allowed origin may read the body and the rate-limit headers.
        const get = (origin: string) =>
          S.raw(cors.port, { method: "GET", path: "/public/v1/exchanges", headers: { "x-api-key": bystander.key, origin } })
        const ok = yield* get(allowedOrigin)
        expect(ok.status).toBe(200)
        expect(ok.headers["access-control-allow-origin"]).toBe(allowedOrigin)
        const exposed = String(ok.headers["access-control-expose-headers"]).toLowerCase()
        for (const header of ["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "retry-after"]) {
          expect(exposed).toContain(header)
        }
        expect((yield* get("https://evil.example.com")).headers["access-control-allow-origin"]).toBeUndefined()
      })
    )
  })
})
