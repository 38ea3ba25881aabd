import { generateKeyPairSync, verify } from "node:crypto"
import { HttpClient, HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import * as CoinbasePrivate from "../src/CoinbasePrivate.js"
import { fixture } from "./fixtures.js"
import { coinbaseRow } from "./support.js"

const keyName = "organizations/org-1/apiKeys/key-1"
const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" })
const pem = privateKey.export({ type: "sec1", format: "pem" }).toString()
const vars = { keyNameVar: "CB_PRIVATE_TEST_KEY_NAME", privateKeyVar: "CB_PRIVATE_TEST_PEM" }
const env = ConfigProvider.fromMap(new Map([[vars.keyNameVar, keyName], [vars.privateKeyVar, pem]]))
const row = coinbaseRow({ wsUrl: "ws://127.0.0.1:7070", restUrl: "http://127.0.0.1:7070" })

interface Seen {
  readonly path: string
  readonly query: URLSearchParams
  readonly claims: Record<string, unknown>
}

/** A fake Coinbase answering from fixtures; every request must carry a valid JWT for its own method and path. */
const fakeCoinbase = (answer: (path: string, query: URLSearchParams) => { status: number; body: string }) => {
  const seen: Array<Seen> = []
  const client = HttpClient.make((request, url) =>
    Effect.sync(() => {
      const auth = request.headers.authorization ?? ""
      assert.match(auth, /^Bearer /)
      const [h, p, s] = auth.slice("Bearer ".length).split(".") as [string, string, string]
      const valid = verify("sha256", Buffer.from(`${h}.${p}`), { key: publicKey, dsaEncoding: "ieee-p1363" }, Buffer.from(s, "base64url"))
      assert.isTrue(valid, "JWT signature")
      const claims = JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>
      seen.push({ path: url.pathname, query: url.searchParams, claims })
      const { status, body } = answer(url.pathname, url.searchParams)
      return HttpClientResponse.fromWeb(request, new Response(body, { status, headers: { "content-type": "application/json" } }))
    })
  )
  return { seen, layer: Layer.succeed(HttpClient.HttpClient, client) }
}

const privateLayer = (fake: ReturnType<typeof fakeCoinbase>) =>
  CoinbasePrivate.layer(row, vars).pipe(Layer.provide(fake.layer), Layer.provide(Layer.setConfigProvider(env)))

describe("CoinbasePrivate", () => {
  it.scopedLive("accounts: a fresh JWT per request (uri without query), cursor followed while has_next", () =>
    Effect.gen(function* () {
      const fake = fakeCoinbase((_, query) => ({
        status: 200,
        body: fixture(query.get("cursor") === "789100" ? "rest_accounts_page2" : "rest_accounts_page1")
      }))
      const accounts = yield* Effect.flatMap(CoinbasePrivate.CoinbasePrivate, (c) => c.accounts).pipe(
        Effect.provide(privateLayer(fake))
      )
      assert.deepStrictEqual(
        accounts.map((a) => [a.currency, a.available_balance.value]),
        [
          ["BTC", 1.2345],
          ["USD", 250.5]
        ]
      )
      assert.deepStrictEqual(
        fake.seen.map((s) => s.query.get("cursor")),
        [null, "789100"]
      )
      for (const s of fake.seen) {
        assert.strictEqual(s.claims.uri, "GET 127.0.0.1:7070/api/v3/brokerage/accounts")
        assert.strictEqual(s.claims.iss, "cdp")
        assert.strictEqual(s.claims.sub, keyName)
        assert.strictEqual(Number(s.claims.exp) - Number(s.claims.nbf), 120)
      }
    })
  )

  it.scopedLive("fills: filters as query parameters, cursor followed until empty", () =>
    Effect.gen(function* () {
      const fake = fakeCoinbase((_, query) => ({
        status: 200,
        body: fixture(query.get("cursor") === "page-2" ? "rest_fills_page2" : "rest_fills_page1")
      }))
      const fills = yield* Effect.flatMap(CoinbasePrivate.CoinbasePrivate, (c) =>
        c.fills({ productIds: ["BTC-USD", "ETH-USD"], start: Date.UTC(2026, 0, 1), limit: 100 })
      ).pipe(Effect.provide(privateLayer(fake)))
      assert.deepStrictEqual(
        fills.map((f) => [f.product_id, f.side, f.price]),
        [
          ["BTC-USD", "BUY", 92000],
          ["ETH-USD", "SELL", 3100]
        ]
      )
      const first = fake.seen[0]!
      assert.strictEqual(first.path, "/api/v3/brokerage/orders/historical/fills")
      assert.deepStrictEqual(first.query.getAll("product_ids"), ["BTC-USD", "ETH-USD"])
      assert.strictEqual(first.query.get("start_sequence_timestamp"), "2026-01-01T00:00:00.000Z")
      assert.strictEqual(first.query.get("limit"), "100")
      assert.strictEqual(first.claims.uri, "GET 127.0.0.1:7070/api/v3/brokerage/orders/historical/fills")
      assert.strictEqual(fake.seen[1]!.query.get("cursor"), "page-2")
    })
  )

  it.scopedLive("transaction summary: the fee tier", () =>
    Effect.gen(function* () {
      const fake = fakeCoinbase(() => ({ status: 200, body: fixture("rest_transaction_summary") }))
      const summary = yield* Effect.flatMap(CoinbasePrivate.CoinbasePrivate, (c) =>
        c.transactionSummary({ productType: "SPOT" })
      ).pipe(Effect.provide(privateLayer(fake)))
      assert.deepStrictEqual(
        [summary.fee_tier.maker_fee_rate, summary.fee_tier.taker_fee_rate, summary.total_volume],
        [0.006, 0.012, 1000]
      )
      assert.strictEqual(fake.seen[0]!.query.get("product_type"), "SPOT")
    })
  )

  it.scopedLive("refused credentials (401) are an AuthError; a malformed body is a DecodeError", () =>
    Effect.gen(function* () {
      const refusing = fakeCoinbase(() => ({ status: 401, body: '{"error":"UNAUTHENTICATED","message":"invalid jwt"}' }))
      const refused = yield* Effect.flip(
        Effect.flatMap(CoinbasePrivate.CoinbasePrivate, (c) => c.accounts).pipe(Effect.provide(privateLayer(refusing)))
      )
      assert.strictEqual(refused._tag, "AuthError")
      const garbled = fakeCoinbase(() => ({ status: 200, body: '{"accounts":"nope"}' }))
      const bad = yield* Effect.flip(
        Effect.flatMap(CoinbasePrivate.CoinbasePrivate, (c) => c.accounts).pipe(Effect.provide(privateLayer(garbled)))
      )
      assert.strictEqual(bad._tag, "DecodeError")
    })
  )

  it.scopedLive("a missing credentials variable fails the layer with an AuthError naming it", () =>
    Effect.gen(function* () {
      const fake = fakeCoinbase(() => ({ status: 200, body: "{}" }))
      const error = yield* Effect.flip(
        CoinbasePrivate.CoinbasePrivate.pipe(
          Effect.provide(
            CoinbasePrivate.layer(row, vars).pipe(
              Layer.provide(fake.layer),
              Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([[vars.keyNameVar, keyName]]))))
            )
          )
        )
      )
      assert.strictEqual(error._tag, "AuthError")
      assert.include(error.message, "CB_PRIVATE_TEST_PEM")
      assert.deepStrictEqual(fake.seen, [])
    })
  )
})
