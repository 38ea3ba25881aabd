/**
 * Randomized bad requests against a real server: whatever is sent, the answer is never a 5xx, always a 4xx of the
 * kind the request deserves, and its body is exactly the envelope `{ "error": { "code", "message" } }` with the
 * code of its status. The PRNG seed is printed (and taken from FUZZ_SEED when set) so a failure reproduces.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Config, Context, Effect, Layer } from "effect"
import * as S from "./support.js"

const seed = Effect.runSync(Config.integer("FUZZ_SEED").pipe(Config.withDefault(Date.now() % 2_147_483_647)))
/** FUZZ_VERBOSE set: every failure of a category in the report, not the first three. */
const verbose = Effect.runSync(Config.boolean("FUZZ_VERBOSE").pipe(Config.withDefault(false)))
const cases = 1_200
const concurrency = 16

class Fixture extends Context.Tag("test/FuzzFixture")<
  Fixture,
  {
    readonly server: S.TestServer
    readonly key: S.SeedKey
    /** Real cursors, to be replayed where they do not belong. */
    readonly cursors: {
      readonly candles: string
      readonly candlesSince: string
      readonly symbols: string
      readonly symbolsGradeB: string
      readonly alerts: string
      readonly alertsBinance: string
    }
  }
>() {}

const FixtureLive = Layer.scoped(
  Fixture,
  Effect.gen(function* () {
    const prefix = S.freshPrefix("fuzz")
    yield* S.cleanupNamespace(prefix)
    // High enough that the fuzz never meets the limit (and not a divisor of a minute in milliseconds).
    const server = yield* S.startServer({ prefix, requestsPerMinute: 700_000 })
    yield* S.seedAll(server, S.makeSeed())
    const key = S.makeKey(21, "fuzz")
    yield* S.seedKeys(server, [key])
    const cursorOf = (path: string) =>
      Effect.map(S.getJson(server.port, path, { "x-api-key": key.key }), (res) => {
        const cursor = (res.json as { meta?: { cursor?: unknown } } | undefined)?.meta?.cursor
        if (typeof cursor !== "string") throw new Error(`no cursor from ${path}: ${res.status} ${res.text}`)
        return cursor
      })
    const cursors = {
      candles: yield* cursorOf("/public/v1/exchanges/binance/candles/BTCUSDT/1h?limit=10"),
      candlesSince: yield* cursorOf("/public/v1/exchanges/binance/candles/BTCUSDT/1h?limit=10&from=2026-11-15"),
      symbols: yield* cursorOf("/public/v1/exchanges/binance/symbols?limit=2"),
      symbolsGradeB: yield* cursorOf("/public/v1/exchanges/binance/symbols?limit=2&grade=B"),
      alerts: yield* cursorOf("/public/v1/alerts?limit=2"),
      alertsBinance: yield* cursorOf("/public/v1/alerts?limit=2&exchange=binance")
    }
    return { server, key, cursors }
  }).pipe(Effect.orDie)
)

/** One generated request and the statuses it may get. */
interface Case {
  readonly category: string
  readonly req: S.RawRequest
  readonly allowed: ReadonlyArray<number>
}

type Cursors = Context.Tag.Service<Fixture>["cursors"]

const enc = encodeURIComponent
const b64 = (value: unknown): string => Buffer.from(typeof value === "string" ? value : JSON.stringify(value), "utf8").toString("base64url")

/** The generators, over one PRNG. */
const generators = (rng: S.Prng, key: string, cursors: Cursors) => {
  const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
  const ascii = (n: number, alphabet = alnum) => Array.from({ length: n }, () => alphabet[rng.int(0, alphabet.length - 1)]).join("")
  const printable = (n: number) => Array.from({ length: n }, () => String.fromCharCode(rng.int(0x21, 0x7e))).join("")
  const latin1 = (n: number) => Array.from({ length: n }, () => String.fromCharCode(rng.int(0xa0, 0xff))).join("")
  const unicodeRanges: ReadonlyArray<readonly [number, number]> = [
    [0x00c0, 0x024f], // Latin extended
    [0x0300, 0x036f], // combining marks
    [0x0400, 0x04ff], // Cyrillic
    [0x0600, 0x06ff], // Arabic (RTL)
    [0x200b, 0x200f], // zero-width and direction marks
    [0x4e00, 0x4fff], // CJK
    [0xff10, 0xff5a], // full-width digits and letters
    [0x1f300, 0x1f64f] // emoji
  ]
  const unicode = (n: number) =>
    Array.from({ length: n }, () => {
      if (rng.chance(0.3)) return alnum[rng.int(0, alnum.length - 1)]!
      const [lo, hi] = rng.pick(unicodeRanges)
      return String.fromCodePoint(rng.int(lo, hi))
    }).join("")

  /** A path segment that is not a served name: [raw segment, may it be 404 rather than 400]. */
  const badName = (): readonly [string, boolean] => {
    switch (rng.int(0, 8)) {
      case 0:
        return [ascii(rng.int(65, 400)), false]
      case 1:
        return [enc(unicode(rng.int(1, 20))), false]
      case 2:
        return [rng.pick(["BTC%2FUSDT", "%2F", "BTC%2fUSDT%2f", "%2Fetc%2Fpasswd", "..%2F..%2Fadmin"]), false]
      case 3:
        return [rng.pick(["BTC%00USDT", "%00", "BTCUSDT%00", "%00%00%00"]), false]
      case 4:
        return [rng.pick(["%2E%2E", "%2e", "-BTC", ".BTC", "_x", "BTC%20USDT", "BTC%3BUSDT", "BTC%3FUSDT", "%25", "BTC%23", "%09", "BTC%0D%0AX-Injected:%201"]), false]
      case 5:
        // Printable ASCII: may happen to be a well-formed name, which is then a 404.
        return [enc(`${ascii(rng.int(1, 10))}${printable(rng.int(1, 10))}`), true]
      case 6:
        return [`ZZ${ascii(rng.int(1, 20))}`, true]
      case 7:
        return [rng.pick(["btcusdt", "BTC-USDT", "BTCUSDT.", "BTCUSD"]), true]
      default:
        return [enc(latin1(rng.int(1, 12))), false]
    }
  }

  const badTimeframes = ["1m", "2h", "1H", "60m", "1w", "5M", "1d%20", "%20", "4h%00", "1h%3B", enc("１h"), "0", "-1h", "1h1h", "15", "h", enc("5m\n"), "1D", "4H", "%31%68%20"]

  const badLimit = (max: number): string =>
    rng.pick([
      "0",
      "-1",
      `-${rng.int(2, 1e6)}`,
      "1.5",
      `${rng.int(1, 99)}.${rng.int(1, 9)}`,
      "1e3",
      "1E2",
      `${rng.int(1, 9)}e${rng.int(0, 5)}`,
      String(max + 1),
      String(rng.int(max + 1, 9_999_999)),
      ascii(rng.int(8, 30), "0123456789").replace(/^0/, "1"),
      "",
      "%205",
      "5%20",
      "0x10",
      "Infinity",
      "NaN",
      "1%2C2",
      enc("١٢"),
      enc("５"),
      "%2B5",
      "null",
      "true",
      enc(printable(rng.int(1, 6)).replace(/^\d+$/, "x"))
    ])

  const badInstants = [
    "2026-13-01",
    "2026-00-10",
    "yesterday",
    "1700000000000",
    "2026%2F11%2F21",
    "21-11-2026",
    "2026-11-21T25%3A00%3A00Z",
    "2026-11-21T12%3A60%3A00Z",
    "1969-12-31T23%3A59%3A59Z",
    "%2B275760-09-13",
    "",
    "2026-11-21T12%3A00%3A00%2B25%3A00",
    "2026-11-21TT12",
    "now",
    enc("２０２６-11-21"),
    "2026-11-21T12%3A00%3A00Zjunk"
  ]

  const candlesPath = (ex = "binance", sym = "BTCUSDT", tf = "1h") => `/public/v1/exchanges/${ex}/candles/${sym}/${tf}`
  const validPath = () =>
    rng.pick([
      "/public/v1/exchanges",
      "/public/v1/exchanges/binance/symbols",
      candlesPath(),
      candlesPath("coinbase", "BTC-USD", "5m"),
      "/public/v1/exchanges/binance/signals/BTCUSDT",
      "/public/v1/alerts"
    ])
  const withQuery = (path: string, params: ReadonlyArray<readonly [string, string]>) =>
    params.length === 0 ? path : `${path}?${params.map(([k, v]) => `${k}=${v}`).join("&")}`
  const unknownParam = (): readonly [string, string] => [
    rng.pick(["limt", "page", "offset", "sort", "api_key", "apikey", "callback", "format", "Limit", "LIMIT", "cursor[]", `x${ascii(rng.int(1, 12))}`]),
    enc(printable(rng.int(0, 10)))
  ]
  /** Up to four junk headers, one of them possibly large (the whole head stays under Node's 16 KiB limit). */
  const junkHeaders = (): Record<string, string> => {
    const headers: Record<string, string> = {}
    for (let i = rng.int(1, 4); i > 0; i--) {
      const name = rng.pick(["x-junk", "accept", "content-type", "cookie", "x-forwarded-for", "accept-language", "if-none-match", "x-request-id"])
      headers[name] = rng.chance(0.5) ? latin1(rng.int(1, 50)) : printable(rng.int(1, 80))
    }
    if (rng.chance(0.3)) headers["x-large"] = printable(rng.int(1000, 5000))
    return headers
  }
  const keyed = (extra: Record<string, string> = {}) => ({ ...extra, "x-api-key": key })

  /** Sometimes add an unknown parameter or junk headers to an already bad request. */
  const noisy = (c: Case): Case => {
    let req = c.req
    if (rng.chance(0.2)) {
      const [k, v] = unknownParam()
      req = { ...req, path: `${req.path}${req.path.includes("?") ? "&" : "?"}${k}=${v}` }
    }
    if (rng.chance(0.2)) req = { ...req, headers: { ...junkHeaders(), ...req.headers } }
    return { ...c, req }
  }

  const get = (path: string, headers: Record<string, string> = keyed()): S.RawRequest => ({ method: "GET", path, headers })

  const forgedCursor = (kind: "candles" | "symbols" | "alerts"): string => {
    const q = kind === "candles" ? "binance|BTCUSDT|1h||" : kind === "symbols" ? "binance|" : "||||||"
    return rng.pick([
      b64({ k: kind, q, p: -5 }),
      b64({ k: kind, q, p: 1.5 }),
      b64({ k: kind, q, p: 1e300 }),
      b64({ k: kind, q, p: null }),
      b64({ k: kind, q }),
      b64({ k: kind, p: 1 }),
      b64({ k: kind, q: `${q}x`, p: kind === "alerts" ? "1-0" : 1 }),
      b64({ k: "other", q, p: 1 }),
      b64({ k: kind, q, p: kind === "alerts" ? 1 : "1" }),
      b64({ k: kind, q, p: kind === "alerts" ? "99999999999999999999-0" : Number.MAX_SAFE_INTEGER + 2 }),
      b64({ k: kind, q, p: kind === "alerts" ? "1-99999999999999999999" : -0.5 }),
      b64({ k: kind, q, p: kind === "alerts" ? "abc" : "12" }),
      b64({ k: kind, q, p: { $gt: 0 } }),
      b64([kind, q, 1]),
      b64("null"),
      b64("{"),
      b64(`{"k":"${kind}","q":"${q}","p":1,"p":`),
      b64(printable(rng.int(1, 60)))
    ])
  }

  const categories: ReadonlyArray<readonly [string, number, () => Case]> = [
    [
      "bad symbol",
      12,
      () => {
        const [name, wellFormed] = badName()
        // Symbols in paths only: as an alerts filter a symbol the URL parser normalises into a well-formed one
        // (seen: a trailing character dropped) just matches nothing, which is a correct empty 200.
        const path = rng.chance(0.6) || (wellFormed && rng.chance(0.8))
          ? candlesPath("binance", name, "1h")
          : `/public/v1/exchanges/binance/signals/${name}`
        return { category: "bad symbol", req: get(path), allowed: [400, 404] }
      }
    ],
    [
      "bad exchange",
      8,
      () => {
        const [name] = badName()
        const path = rng.pick([
          `/public/v1/exchanges/${name}/symbols`,
          candlesPath(name),
          `/public/v1/exchanges/${name}/signals/BTCUSDT`,
          withQuery("/public/v1/alerts", [["exchange", name]])
        ])
        return { category: "bad exchange", req: get(path), allowed: [400, 404] }
      }
    ],
    [
      "bad timeframe",
      8,
      () => {
        const tf = rng.pick(badTimeframes)
        const path = rng.pick([
          candlesPath("binance", "BTCUSDT", tf),
          withQuery("/public/v1/exchanges/binance/signals/BTCUSDT", [["timeframe", tf]]),
          withQuery("/public/v1/alerts", [["timeframe", tf]]),
          candlesPath("coinbase", "BTC-USD", "4h"),
          withQuery("/public/v1/exchanges/coinbase/signals/BTC-USD", [["timeframe", "4h"]])
        ])
        return { category: "bad timeframe", req: get(path), allowed: [400, 404] }
      }
    ],
    [
      "bad cursor",
      16,
      () => {
        const which = rng.pick(["candles", "symbols", "alerts"] as const)
        const path =
          which === "candles" ? candlesPath() : which === "symbols" ? "/public/v1/exchanges/binance/symbols" : "/public/v1/alerts"
        const real = rng.pick(Object.values(cursors))
        const misplaced: ReadonlyArray<string> =
          which === "candles"
            ? [cursors.candlesSince, cursors.symbols, cursors.alerts]
            : which === "symbols"
              ? [cursors.symbolsGradeB, cursors.candles, cursors.alerts]
              : [cursors.alertsBinance, cursors.candles, cursors.symbols]
        const cursor = rng.pick([
          enc(printable(rng.int(1, 80))),
          b64(Buffer.from(Array.from({ length: rng.int(1, 300) }, () => rng.int(0, 255))).toString("latin1")),
          forgedCursor(which),
          forgedCursor(which),
          real.slice(0, rng.int(1, real.length - 1)),
          // Shifted by one to three characters: every byte decodes differently.
          `${ascii(rng.int(1, 3))}${real}`,
          rng.pick(misplaced),
          "A".repeat(rng.int(513, 2000)),
          enc(`${real.slice(0, 10)}+/=${real.slice(10)}`),
          enc(`${real}.`),
          ""
        ])
        return { category: "bad cursor", req: get(withQuery(path, [["cursor", cursor]])), allowed: [400] }
      }
    ],
    [
      "bad range",
      10,
      () => {
        const path = rng.chance(0.5) ? candlesPath() : "/public/v1/alerts"
        const params: Array<readonly [string, string]> = []
        if (rng.chance(0.4)) {
          const a = Date.UTC(2026, 10, rng.int(1, 20), rng.int(0, 23))
          const b = a + rng.int(1, 10 * 86_400_000)
          params.push(["from", enc(new Date(b).toISOString())], ["to", enc(new Date(a).toISOString())])
        } else {
          const name = rng.pick(["from", "to"])
          params.push([name, rng.pick(badInstants)])
          if (rng.chance(0.3)) params.push([name === "from" ? "to" : "from", "2026-11-01"])
          if (rng.chance(0.5)) params.reverse()
        }
        return { category: "bad range", req: get(withQuery(path, params)), allowed: [400] }
      }
    ],
    [
      "bad limit",
      10,
      () => {
        const which = rng.pick(["candles", "symbols", "alerts"] as const)
        const path =
          which === "candles" ? candlesPath() : which === "symbols" ? "/public/v1/exchanges/binance/symbols" : "/public/v1/alerts"
        const limit = badLimit(which === "alerts" ? 500 : 1000)
        return { category: "bad limit", req: get(withQuery(path, [["limit", limit]])), allowed: [400] }
      }
    ],
    [
      "bad key",
      12,
      () => {
        const badKey = rng.pick([
          "",
          " ",
          ascii(rng.int(1, 6000)),
          latin1(rng.int(1, 100)),
          key.replace(/-/g, ""),
          `${key}0`,
          key.slice(1),
          key.replace(/[0-9a-f]/, "g"),
          crypto.randomUUID(),
          `Bearer ${key}`,
          `${key}, ${key}`,
          printable(36)
        ])
        const headers: Record<string, string> = { ...(rng.chance(0.5) ? junkHeaders() : {}) }
        if (badKey !== "" || rng.chance(0.5)) headers["x-api-key"] = badKey
        const path = rng.chance(0.7) ? validPath() : withQuery(validPath(), [["limit", badLimit(500)]])
        return { category: "bad key", req: { method: "GET", path, headers }, allowed: [401] }
      }
    ],
    [
      "wrong method",
      8,
      () => {
        const method = rng.pick(["POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"])
        const path = rng.chance(0.85) ? validPath() : rng.pick(["/public/v1/openapi.json", "/public/v1/docs"])
        const body = method === "POST" || method === "PUT" || method === "PATCH" ? JSON.stringify({ limit: 5 }) : undefined
        return {
          category: "wrong method",
          req: { method, path, headers: keyed(body === undefined ? {} : { "content-type": "application/json" }), body },
          allowed: [404, 405]
        }
      }
    ],
    [
      "unknown path",
      8,
      () => {
        const path = rng.pick([
          `/public/v1/x${ascii(rng.int(1, 20))}`,
          `/public/v1/x${ascii(rng.int(1, 8))}/${ascii(rng.int(1, 8))}`,
          "/public/v1/exchange",
          "/public/v1/exchangez",
          "/public/v1/exchanges/binance",
          "/public/v1/exchanges/binance/candles",
          "/public/v1/exchanges/binance/candles/BTCUSDT",
          "/public/v1/exchanges/binance/candles/BTCUSDT/1h/extra",
          "/public/v1/exchanges/binance/signals",
          "/public/v1/exchanges/binance/signals/BTCUSDT/1h",
          "/public/v1/alerts/123",
          "/public/v1/openapi.yaml",
          "/public/v1/asyncapi.json.bak",
          `/public/v1/${enc(unicode(rng.int(1, 8)))}`,
          "/public/v1/exchanges/binance/symbols/BTCUSDT"
        ])
        return { category: "unknown path", req: get(path), allowed: [404] }
      }
    ],
    [
      "malformed path",
      4,
      () => {
        const path = rng.pick([
          "/public/v1",
          "/public/v1/",
          "/public/v1/exchanges/binance/candles/BTC%E0%A4%A/1h",
          "/public/v1/exchanges/%/symbols",
          "/public/v1/exchanges/binance/signals/%zz",
          "/public/v1/%C0%AF",
          `/public/v1/exchanges/binance/candles/BTCUSDT%${rng.pick(["", "G", "1"])}/1h`
        ])
        return { category: "malformed path", req: get(path), allowed: [400, 404] }
      }
    ],
    [
      "repeated parameter",
      4,
      () => {
        const [path, name, values] = rng.pick([
          [candlesPath(), "limit", ["2", "3"]],
          [candlesPath(), "from", ["2026-11-01", "2026-11-02"]],
          ["/public/v1/exchanges/binance/symbols", "grade", ["A", "B"]],
          ["/public/v1/exchanges/binance/signals/BTCUSDT", "timeframe", ["1h", "4h"]],
          ["/public/v1/alerts", "exchange", ["binance", "coinbase"]],
          ["/public/v1/alerts", "cursor", [cursors.alerts, cursors.alerts]]
        ] as const)
        return { category: "repeated parameter", req: get(withQuery(path, values.map((v) => [name, v] as const))), allowed: [400] }
      }
    ],
    [
      "unknown parameter",
      4,
      () => ({ category: "unknown parameter", req: get(withQuery(validPath(), [unknownParam()])), allowed: [400] })
    ]
  ]
  const total = categories.reduce((sum, [, weight]) => sum + weight, 0)

  return {
    next: (): Case => {
      let roll = rng.next() * total
      for (const [, weight, make] of categories) {
        roll -= weight
        if (roll < 0) {
          const made = make()
          // Noise only where it cannot change the verdict.
          return made.category === "unknown parameter" || made.category === "bad key" ? made : noisy(made)
        }
      }
      return categories[0]![2]()
    }
  }
}

/** What is wrong with `res` as the answer to `c`, or undefined. */
const verdict = (c: Case, res: S.RawResponse): string | undefined => {
  if (res.status >= 500) return `server error ${res.status}`
  if (res.status < 400) return `status ${res.status} is not a 4xx`
  if (!c.allowed.includes(res.status)) return `status ${res.status}, expected one of ${c.allowed.join("/")}`
  if (!String(res.headers["content-type"] ?? "").startsWith("application/json")) {
    return `content-type ${String(res.headers["content-type"])}`
  }
  const body = S.parseJson(res.text)
  const problem = S.envelopeProblem(body)
  if (problem !== undefined) return `not the envelope (${problem})`
  const { code, message } = (body as { error: { code: string; message: string } }).error
  const wanted = S.codeForStatus[res.status]
  if (wanted !== undefined && code !== wanted) return `code ${code} for status ${res.status}`
  if (/\n\s+at\s|node_modules|_tag|Fiber|ParseError/.test(message)) return "the message carries internal detail"
  return undefined
}

layer(FixtureLive, { excludeTestServices: true, timeout: "60 seconds" })("public API fuzz", (it) => {
  describe("bad requests", () => {
    it.effect(`${cases} randomized bad requests get a 4xx in the envelope, never a 5xx (seed ${seed})`, () =>
      Effect.gen(function* () {
        console.log(`public-api fuzz: seed ${seed} (rerun with FUZZ_SEED=${seed})`)
        const { server, key, cursors } = yield* Fixture
        const gen = generators(S.prng(seed), key.key, cursors)
        const all = Array.from({ length: cases }, () => gen.next())
        const agent = S.agentFor(concurrency)
        const answers = yield* Effect.forEach(
          all,
          (c) =>
            S.raw(server.port, c.req, agent).pipe(
              Effect.map((res) => ({ c, res, wrong: verdict(c, res) })),
              Effect.catchAll((error) => Effect.succeed({ c, res: undefined, wrong: `no answer: ${error.message}` }))
            ),
          { concurrency }
        )

        interface Tally {
          total: number
          readonly statuses: Map<number, number>
          readonly failures: Array<string>
        }
        const byCategory = new Map<string, Tally>()
        for (const { c, res, wrong } of answers) {
          const entry: Tally = byCategory.get(c.category) ?? { total: 0, statuses: new Map(), failures: [] }
          entry.total++
          if (res !== undefined) entry.statuses.set(res.status, (entry.statuses.get(res.status) ?? 0) + 1)
          if (wrong !== undefined) {
            entry.failures.push(`${wrong}: ${c.req.method} ${c.req.path.slice(0, 160)} → ${res?.text.slice(0, 160) ?? ""}`)
          }
          byCategory.set(c.category, entry)
        }
        const summary = [...byCategory]
          .map(([category, { total, statuses, failures }]) => {
            const counts = [...statuses].map(([s, n]) => `${s}×${n}`).join(" ")
            const head = `${category}: ${total} requests (${counts})${failures.length > 0 ? `, ${failures.length} WRONG` : ""}`
            return [head, ...failures.slice(0, verbose ? undefined : 3).map((f) => `    ${f}`)].join("\n")
          })
          .join("\n")
        console.log(summary.split("\n").filter((line) => !line.startsWith("    ")).join("\n"))
        expect(answers.length).toBeGreaterThanOrEqual(1_000)
        expect(answers.filter((a) => a.wrong !== undefined).length, `seed ${seed}\n${summary}`).toBe(0)
      }),
    // 1,200 requests take about 3 s alone; the default 5 s is too tight beside other test files.
    60_000
    )

    it.effect("the server still answers valid requests after the fuzz", () =>
      Effect.gen(function* () {
        const { server, key } = yield* Fixture
        for (const path of ["/public/v1/exchanges", "/public/v1/exchanges/binance/candles/BTCUSDT/1h?limit=5", "/public/v1/alerts"]) {
          const res = yield* S.getJson(server.port, path, { "x-api-key": key.key })
          expect(res.status, path).toBe(200)
        }
      })
    )
  })
})
