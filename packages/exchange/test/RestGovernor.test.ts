import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { FetchHttpClient, HttpClient, HttpClientError, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Fiber, Ref, TestClock, TestServices } from "effect"
import * as RestGovernor from "../src/RestGovernor.js"

/** Let forked fibers run up to their next suspension, on the real clock (TestClock stays frozen). */
const settle = TestServices.provideLive(Effect.sleep("20 millis"))

interface Reply {
  readonly status?: number
  readonly headers?: Record<string, string>
  readonly body?: string
}

/** An in-memory `HttpClient`: `reply` sees each request (and its 0-based index) and scripts the response. */
const fakeClient = (reply: (request: HttpClientRequest.HttpClientRequest, n: number) => Effect.Effect<Reply>) =>
  Effect.gen(function* () {
    const sent = yield* Ref.make<ReadonlyArray<{ readonly url: string; readonly at: number }>>([])
    const client = HttpClient.make((request) =>
      Effect.gen(function* () {
        const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
        const n = (yield* Ref.getAndUpdate(sent, (all) => [...all, { url: request.url, at: now }])).length
        const r = yield* reply(request, n)
        return HttpClientResponse.fromWeb(
          request,
          new Response(r.body ?? "", { status: r.status ?? 200, headers: r.headers ?? {} })
        )
      })
    )
    return { client, sent }
  })

const ok = (): Effect.Effect<Reply> => Effect.succeed({ status: 200 })

const get = (path: string) => HttpClientRequest.get(`http://exchange.test${path}`)

const governor = (client: HttpClient.HttpClient, options: Partial<RestGovernor.Options> = {}) =>
  RestGovernor.make({ exchange: "testex", weightPerMinute: 10, maxConcurrency: 4, ...options }).pipe(
    Effect.provideService(HttpClient.HttpClient, client)
  )

describe("RestGovernor (TestClock, in-memory client)", () => {
  it.scoped("admits while the rolling budget lasts, then waits (not fails) until weight leaves the window", () =>
    Effect.gen(function* () {
      const { client, sent } = yield* fakeClient(ok)
      const gov = yield* governor(client)
      yield* gov.execute(get("/a"), 4)
      yield* TestClock.adjust("10 seconds")
      yield* gov.execute(get("/b"), 4)
      const third = yield* Effect.fork(gov.execute(get("/c"), 4))
      yield* settle
      let stats = yield* gov.stats
      assert.strictEqual((yield* Ref.get(sent)).length, 2)
      assert.strictEqual(stats.usedWeight, 8)
      assert.strictEqual(stats.weightLimit, 10)
      assert.strictEqual(stats.queued, 1)
      // The first request's weight leaves the rolling window 60 s after it was sent, not at a minute boundary.
      yield* TestClock.adjust("49 seconds")
      yield* settle
      assert.strictEqual((yield* Ref.get(sent)).length, 2)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(third)
      stats = yield* gov.stats
      assert.deepStrictEqual(
        (yield* Ref.get(sent)).map((s) => s.at),
        [0, 10_000, 60_000]
      )
      assert.strictEqual(stats.requests, 3)
      assert.strictEqual(stats.usedWeight, 8)
      assert.strictEqual(stats.queued, 0)
    })
  )

  it.scoped("admission is first come, first served: a light request does not overtake a waiting heavy one", () =>
    Effect.gen(function* () {
      const { client, sent } = yield* fakeClient(ok)
      const gov = yield* governor(client)
      yield* gov.execute(get("/first"), 6)
      const heavy = yield* Effect.fork(gov.execute(get("/heavy"), 8))
      yield* settle
      const light = yield* Effect.fork(gov.execute(get("/light"), 2))
      yield* settle
      assert.strictEqual((yield* Ref.get(sent)).length, 1, "the light one fits the budget but waits its turn")
      assert.strictEqual((yield* gov.stats).queued, 2)
      yield* TestClock.adjust("60 seconds")
      yield* Fiber.join(heavy)
      yield* Fiber.join(light)
      assert.deepStrictEqual(
        (yield* Ref.get(sent)).map((s) => new URL(s.url).pathname),
        ["/first", "/heavy", "/light"]
      )
    })
  )

  it.scoped("weightPerSecond spreads a burst over rolling seconds", () =>
    Effect.gen(function* () {
      const { client, sent } = yield* fakeClient(ok)
      const gov = yield* governor(client, { weightPerMinute: 100, weightPerSecond: 2 })
      const all = yield* Effect.fork(
        Effect.all(
          Array.from({ length: 5 }, (_, i) => gov.execute(get(`/${i}`), 1)),
          { concurrency: "unbounded" }
        )
      )
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(all)
      assert.deepStrictEqual(
        (yield* Ref.get(sent)).map((s) => s.at),
        [0, 0, 1000, 1000, 2000]
      )
    })
  )

  it.scoped("a request heavier than the whole budget goes into an empty window instead of waiting forever", () =>
    Effect.gen(function* () {
      const { client, sent } = yield* fakeClient(ok)
      const gov = yield* governor(client)
      yield* gov.execute(get("/huge"), 50)
      assert.strictEqual((yield* Ref.get(sent)).length, 1)
    })
  )

  it.scoped("never has more than maxConcurrency requests in flight", () =>
    Effect.gen(function* () {
      const inFlight = yield* Ref.make(0)
      const peak = yield* Ref.make(0)
      const release = yield* Deferred.make<void>()
      const { client } = yield* fakeClient(() =>
        Effect.gen(function* () {
          const n = yield* Ref.updateAndGet(inFlight, (x) => x + 1)
          yield* Ref.update(peak, (p) => Math.max(p, n))
          yield* Deferred.await(release)
          yield* Ref.update(inFlight, (x) => x - 1)
          return { status: 200 }
        })
      )
      const gov = yield* governor(client, { maxConcurrency: 2, weightPerMinute: 1000 })
      const all = yield* Effect.fork(
        Effect.all(
          Array.from({ length: 6 }, (_, i) => gov.execute(get(`/${i}`), 1)),
          { concurrency: "unbounded" }
        )
      )
      yield* settle
      assert.strictEqual(yield* Ref.get(inFlight), 2)
      assert.strictEqual((yield* gov.stats).queued, 4)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(all)
      assert.strictEqual(yield* Ref.get(peak), 2)
    })
  )

  it.scoped("the used-weight header raises the estimate until the server's minute ends", () =>
    Effect.gen(function* () {
      // Another process on the same IP has spent most of this minute's budget.
      const { client, sent } = yield* fakeClient(() =>
        Effect.succeed({ status: 200, headers: { "X-MBX-USED-WEIGHT-1M": "9" } })
      )
      const gov = yield* governor(client, { usedWeightHeader: "x-mbx-used-weight-1m" })
      yield* TestClock.adjust("30 seconds")
      yield* gov.execute(get("/a"), 1)
      assert.strictEqual((yield* gov.stats).usedWeight, 9)
      const next = yield* Effect.fork(gov.execute(get("/b"), 2))
      yield* settle
      assert.strictEqual((yield* Ref.get(sent)).length, 1)
      // The unaccounted weight is booked at the minute's start, so it leaves at the server's reset (t = 60 s).
      yield* TestClock.adjust("30 seconds")
      yield* Fiber.join(next)
      assert.deepStrictEqual(
        (yield* Ref.get(sent)).map((s) => s.at),
        [30_000, 60_000]
      )
    })
  )

  it.scoped("a header below the local estimate does not lower it", () =>
    Effect.gen(function* () {
      const { client } = yield* fakeClient(() => Effect.succeed({ status: 200, headers: { "x-used": "1" } }))
      const gov = yield* governor(client, { usedWeightHeader: "x-used" })
      yield* gov.execute(get("/a"), 5)
      assert.strictEqual((yield* gov.stats).usedWeight, 5)
    })
  )

  it.scoped("429 pauses every request for Retry-After, then retries; no request is sent during the pause", () =>
    Effect.gen(function* () {
      const { client, sent } = yield* fakeClient((_, n) =>
        Effect.succeed(n === 0 ? { status: 429, headers: { "retry-after": "5" } } : { status: 200 })
      )
      const gov = yield* governor(client, { weightPerMinute: 1000 })
      const first = yield* Effect.fork(gov.execute(get("/limited"), 1))
      yield* settle
      const other = yield* Effect.fork(gov.execute(get("/other"), 1))
      yield* settle
      assert.strictEqual((yield* Ref.get(sent)).length, 1)
      assert.strictEqual((yield* gov.stats).rateLimited, 1)
      yield* TestClock.adjust("4999 millis")
      yield* settle
      assert.strictEqual((yield* Ref.get(sent)).length, 1)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual((yield* Fiber.join(first)).status, 200)
      assert.strictEqual((yield* Fiber.join(other)).status, 200)
      assert.deepStrictEqual(
        (yield* Ref.get(sent)).map((s) => s.at),
        [0, 5000, 5000]
      )
    })
  )

  it.scoped("a request waiting for the slot of one that got 429 is not sent before the pause is booked", () =>
    Effect.gen(function* () {
      const { client, sent } = yield* fakeClient((_request, n) =>
        Effect.succeed(n === 0 ? { status: 429, headers: { "retry-after": "5" } } : { status: 200 })
      )
      const gov = yield* governor(client, { weightPerMinute: 100, maxConcurrency: 1 })
      const first = yield* Effect.fork(gov.execute(get("/first"), 1))
      const second = yield* Effect.fork(gov.execute(get("/second"), 1))
      yield* settle
      assert.strictEqual((yield* Ref.get(sent)).length, 1)
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(first)
      yield* Fiber.join(second)
      const times = (yield* Ref.get(sent)).map((s) => s.at)
      assert.deepStrictEqual(times, [0, 5_000, 5_000])
    })
  )

  it.scoped("429 without Retry-After backs off 1 s, then 2 s, and fails RateLimited after maxRetries", () =>
    Effect.gen(function* () {
      const { client, sent } = yield* fakeClient(() => Effect.succeed({ status: 429 }))
      const gov = yield* governor(client, { maxRetries: 2 })
      const fiber = yield* Effect.fork(gov.execute(get("/busy"), 1))
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* settle
      yield* TestClock.adjust("2 seconds")
      const error = yield* Fiber.join(fiber).pipe(Effect.flip)
      assert.deepStrictEqual(
        (yield* Ref.get(sent)).map((s) => s.at),
        [0, 1000, 3000]
      )
      assert.strictEqual(error._tag, "RateLimited")
      if (error._tag === "RateLimited") assert.strictEqual(Duration.toMillis(error.retryAfter), 4000)
      assert.strictEqual((yield* gov.stats).rateLimited, 3)
    })
  )

  it.scoped("a burst answered 429 together escalates the fallback pause once, not once per request", () =>
    Effect.gen(function* () {
      // The first four are answered only once all four are in flight, as an overloaded server would.
      const allInFlight = yield* Deferred.make<void>()
      const { client, sent } = yield* fakeClient((_request, n) =>
        n < 4
          ? Effect.gen(function* () {
              if (n === 3) yield* Deferred.succeed(allInFlight, undefined)
              yield* Deferred.await(allInFlight)
              return { status: 429 }
            })
          : Effect.succeed({ status: 200 })
      )
      const gov = yield* governor(client, { weightPerMinute: 100, maxConcurrency: 4 })
      const burst = yield* Effect.fork(
        Effect.all([1, 2, 3, 4].map((i) => gov.execute(get(`/r${i}`), 1)), { concurrency: "unbounded" })
      )
      yield* settle
      assert.strictEqual((yield* Ref.get(sent)).length, 4)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(burst)
      assert.deepStrictEqual(
        (yield* Ref.get(sent)).map((s) => s.at),
        [0, 0, 0, 0, 1000, 1000, 1000, 1000]
      )
      assert.strictEqual((yield* gov.stats).rateLimited, 4)
    })
  )

  it.scoped("418 opens the circuit: Banned at once for every request (queued ones too) until the ban ends", () =>
    Effect.gen(function* () {
      const answer = yield* Deferred.make<void>()
      const { client, sent } = yield* fakeClient((request) =>
        request.url.endsWith("/slow")
          ? Effect.as(Deferred.await(answer), { status: 418, headers: { "retry-after": "120" } })
          : ok()
      )
      const gov = yield* governor(client, { weightPerMinute: 3 })
      const slow = yield* Effect.fork(gov.execute(get("/slow"), 1))
      yield* settle
      yield* gov.execute(get("/a"), 2)
      // Waits for budget (until t = 60 s) when the ban arrives: it must fail then, not sit there until 60 s.
      const waiting = yield* Effect.fork(gov.execute(get("/waiting"), 2))
      yield* settle
      assert.strictEqual((yield* gov.stats).queued, 1)
      yield* Deferred.succeed(answer, undefined)
      const banned = yield* Fiber.join(slow).pipe(Effect.flip)
      assert.strictEqual(banned._tag, "Banned")
      if (banned._tag === "Banned") assert.strictEqual(banned.until, 120_000)
      const queued = yield* Fiber.join(waiting).pipe(Effect.flip)
      assert.strictEqual(queued._tag, "Banned")
      const later = yield* gov.execute(get("/c"), 1).pipe(Effect.flip)
      assert.strictEqual(later._tag, "Banned")
      assert.strictEqual((yield* Ref.get(sent)).length, 2, "no request reaches the exchange during a ban")
      assert.strictEqual((yield* gov.stats).banned, 1)
      yield* TestClock.adjust("120 seconds")
      assert.strictEqual((yield* gov.execute(get("/d"), 1)).status, 200)
    })
  )

  it.scoped("other statuses and transport errors fail with RequestFailed (status and body excerpt, no query)", () =>
    Effect.gen(function* () {
      const { client } = yield* fakeClient(() =>
        Effect.succeed({ status: 400, body: `{"code":-1121,\n"msg":"Invalid symbol."}${"x".repeat(1000)}` })
      )
      const gov = yield* governor(client)
      const error = yield* gov.execute(get("/api/v3/klines?symbol=NOPE&signature=s3cret"), 1).pipe(Effect.flip)
      assert.strictEqual(error._tag, "RequestFailed")
      if (error._tag === "RequestFailed") {
        assert.strictEqual(error.status, 400)
        assert.strictEqual(error.request, "GET /api/v3/klines")
        assert.include(String(error.cause), `{"code":-1121, "msg":"Invalid symbol."}`)
        assert.isAtMost(String(error.cause).length, 200)
        assert.notInclude(error.message, "s3cret")
      }

      const broken = HttpClient.make((request) =>
        Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause: "ECONNRESET" }))
      )
      const gov2 = yield* governor(broken)
      const transport = yield* gov2.execute(get("/x"), 1).pipe(Effect.flip)
      assert.strictEqual(transport._tag, "RequestFailed")
      if (transport._tag === "RequestFailed") assert.isUndefined(transport.status)
    })
  )

  it.scoped("an interrupted queued request leaves the queue", () =>
    Effect.gen(function* () {
      const { client } = yield* fakeClient(ok)
      const gov = yield* governor(client)
      yield* gov.execute(get("/a"), 10)
      const waiting = yield* Effect.fork(gov.execute(get("/b"), 1))
      yield* settle
      assert.strictEqual((yield* gov.stats).queued, 1)
      yield* Fiber.interrupt(waiting)
      assert.strictEqual((yield* gov.stats).queued, 0)
    })
  )

  it("parseRetryAfter reads delta-seconds and HTTP dates", () => {
    assert.strictEqual(RestGovernor.parseRetryAfter("7", 0), 7000)
    assert.strictEqual(RestGovernor.parseRetryAfter(" 0.25 ", 0), 250)
    assert.strictEqual(RestGovernor.parseRetryAfter("Thu, 01 Jan 1970 00:00:10 GMT", 4000), 6000)
    assert.isUndefined(RestGovernor.parseRetryAfter("soon", 0))
    assert.isUndefined(RestGovernor.parseRetryAfter(undefined, 0))
  })
})

// ---------------------------------------------------------------------------------------------------------------
// Against a real HTTP server

interface Hit {
  readonly path: string
  readonly at: number
}

/** A `node:http` server on 127.0.0.1:0 whose replies are scripted per request; records every request. */
const scriptedServer = (script: (path: string, n: number) => Reply) =>
  Effect.gen(function* () {
    const hits: Array<Hit> = []
    const server = yield* Effect.acquireRelease(
      Effect.async<Server>((resume) => {
        const server = createServer((req: IncomingMessage, res: ServerResponse) => {
          const path = req.url ?? "/"
          const reply = script(path, hits.length)
          hits.push({ path, at: Date.now() })
          res.writeHead(reply.status ?? 200, { "content-type": "application/json", ...reply.headers })
          res.end(reply.body ?? "{}")
        })
        server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
      }),
      (server) =>
        Effect.async<void>((resume) => {
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    )
    const { port } = server.address() as AddressInfo
    return { hits, url: (path: string) => `http://127.0.0.1:${port}${path}` }
  })

const liveGovernor = (options: Partial<RestGovernor.Options> = {}) =>
  Effect.flatMap(HttpClient.HttpClient, (client) => governor(client, { weightPerMinute: 1000, ...options }))

describe("RestGovernor (real HTTP server)", () => {
  it.scopedLive("429 with Retry-After: every request pauses, then both succeed, without a request storm", () =>
    Effect.gen(function* () {
      const server = yield* scriptedServer((_, n) =>
        n === 0 ? { status: 429, headers: { "retry-after": "1" }, body: '{"code":-1003}' } : { status: 200 }
      )
      const gov = yield* liveGovernor({ usedWeightHeader: "x-mbx-used-weight-1m" })
      const first = yield* Effect.fork(gov.execute(HttpClientRequest.get(server.url("/first")), 1))
      yield* Effect.sleep("150 millis")
      const second = yield* gov.execute(HttpClientRequest.get(server.url("/second")), 1)
      yield* Fiber.join(first)
      assert.strictEqual(second.status, 200)
      assert.strictEqual(server.hits.length, 3, "one 429, then exactly one retry and the second request")
      const [limited, ...after] = server.hits
      for (const hit of after) assert.isAtLeast(hit.at - limited!.at, 900, "nothing was sent during the pause")
      const stats = yield* gov.stats
      assert.strictEqual(stats.rateLimited, 1)
      assert.strictEqual(stats.requests, 3)
    }).pipe(Effect.provide(FetchHttpClient.layer))
  )

  it.scopedLive("418 with Retry-After: Banned at once without touching the server, until the ban ends", () =>
    Effect.gen(function* () {
      const server = yield* scriptedServer((_, n) => (n === 0 ? { status: 418, headers: { "retry-after": "1" } } : {}))
      const gov = yield* liveGovernor()
      const started = Date.now()
      const error = yield* gov.execute(HttpClientRequest.get(server.url("/a")), 1).pipe(Effect.flip)
      assert.strictEqual(error._tag, "Banned")
      const again = yield* gov.execute(HttpClientRequest.get(server.url("/b")), 1).pipe(Effect.flip)
      assert.strictEqual(again._tag, "Banned")
      assert.isBelow(Date.now() - started, 900, "fails at once, no waiting, no retries")
      assert.strictEqual(server.hits.length, 1)
      yield* Effect.sleep("1100 millis")
      assert.strictEqual((yield* gov.execute(HttpClientRequest.get(server.url("/c")), 1)).status, 200)
      assert.strictEqual((yield* gov.stats).banned, 1)
    }).pipe(Effect.provide(FetchHttpClient.layer))
  )

  it.scopedLive("a 500 fails RequestFailed with the status and body; the used-weight header is read", () =>
    Effect.gen(function* () {
      const server = yield* scriptedServer((path) =>
        path.startsWith("/fail")
          ? { status: 500, body: '{"msg":"internal"}' }
          : { status: 200, headers: { "x-mbx-used-weight-1m": "42" } }
      )
      const gov = yield* liveGovernor({ usedWeightHeader: "x-mbx-used-weight-1m" })
      yield* gov.execute(HttpClientRequest.get(server.url("/ok")), 2)
      assert.isAtLeast((yield* gov.stats).usedWeight, 42)
      const error = yield* gov.execute(HttpClientRequest.get(server.url("/fail?x=1")), 1).pipe(Effect.flip)
      assert.strictEqual(error._tag, "RequestFailed")
      if (error._tag === "RequestFailed") {
        assert.strictEqual(error.status, 500)
        assert.strictEqual(error.request, "GET /fail")
        assert.strictEqual(error.cause, '{"msg":"internal"}')
      }
    }).pipe(Effect.provide(FetchHttpClient.layer))
  )

  it.scopedLive("a refused connection fails RequestFailed without a status", () =>
    Effect.gen(function* () {
      // Bind, learn the port, close: nothing listens there afterwards.
      const port = yield* Effect.scoped(
        Effect.map(scriptedServer(() => ({})), (s) => Number(new URL(s.url("/")).port))
      )
      const gov = yield* liveGovernor()
      const error = yield* gov.execute(HttpClientRequest.get(`http://127.0.0.1:${port}/x`), 1).pipe(Effect.flip)
      assert.strictEqual(error._tag, "RequestFailed")
      if (error._tag === "RequestFailed") assert.isUndefined(error.status)
    }).pipe(Effect.provide(FetchHttpClient.layer))
  )
})
