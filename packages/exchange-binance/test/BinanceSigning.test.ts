import { HttpClientRequest, UrlParams } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { ExchangeError } from "@livermore/exchange"
import { ConfigProvider, Effect, Option, Redacted } from "effect"
import * as BinanceSigning from "../src/BinanceSigning.js"

// Binance's documented example (binance-spot-api-docs, "SIGNED endpoint examples for POST /api/v3/order").
const apiKey = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
const secretKey = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
const query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
const expected = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"

describe("signature", () => {
  it("matches Binance's documented HMAC-SHA256 example", () => {
    assert.strictEqual(BinanceSigning.signature(Redacted.make(secretKey), query), expected)
  })

  it("signs the exact query sent: caller params, recvWindow, timestamp, then the signature last", () => {
    const params = BinanceSigning.signedParams(
      [
        ["symbol", "LTCBTC"],
        ["side", "BUY"],
        ["type", "LIMIT"],
        ["timeInForce", "GTC"],
        ["quantity", "1"],
        ["price", "0.1"]
      ],
      { secretKey: Redacted.make(secretKey), timestamp: 1499827319559, recvWindow: 5000 }
    )
    assert.strictEqual(UrlParams.toString(params), `${query}&signature=${expected}`)
  })

  it("a signed GET carries the key header and the signed query in the URL the client will send", () => {
    const request = BinanceSigning.signedGet("https://api.binance.com/api/v3/account", [["omitZeroBalances", "true"]], {
      credentials: { apiKey: Redacted.make(apiKey), secretKey: Redacted.make(secretKey) },
      timestamp: 1499827319559,
      recvWindow: 5000
    })
    assert.strictEqual(request.headers["x-mbx-apikey"], apiKey)
    const url = Option.getOrThrow(HttpClientRequest.toUrl(request))
    const sent = url.search.slice(1)
    const unsigned = sent.slice(0, sent.lastIndexOf("&signature="))
    assert.strictEqual(unsigned, "omitZeroBalances=true&recvWindow=5000&timestamp=1499827319559")
    assert.strictEqual(url.searchParams.get("signature"), BinanceSigning.signature(Redacted.make(secretKey), unsigned))
  })

  it("percent-encodes values before signing, exactly as the URL carries them", () => {
    const params = BinanceSigning.signedParams([["note", "a b&c/é"]], {
      secretKey: Redacted.make(secretKey),
      timestamp: 1,
      recvWindow: 5000
    })
    const serialised = UrlParams.toString(params)
    const unsigned = serialised.slice(0, serialised.lastIndexOf("&signature="))
    assert.strictEqual(unsigned, "note=a+b%26c%2F%C3%A9&recvWindow=5000&timestamp=1")
    const url = new URL("https://example.test/x")
    for (const [k, v] of params) url.searchParams.append(k, v)
    assert.strictEqual(url.search.slice(1), serialised)
  })
})

describe("credentials", () => {
  const vars = { apiKey: "BINANCE_API_KEY", apiSecret: "BINANCE_API_SECRET" }
  const withEnv = (env: Record<string, string>) => Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

  it.effect("reads the key and secret from the named variables, redacted", () =>
    Effect.gen(function* () {
      const credentials = yield* BinanceSigning.loadCredentials("binance", vars).pipe(
        withEnv({ BINANCE_API_KEY: apiKey, BINANCE_API_SECRET: secretKey })
      )
      assert.strictEqual(Redacted.value(credentials.apiKey), apiKey)
      assert.strictEqual(Redacted.value(credentials.secretKey), secretKey)
      assert.notInclude(String(credentials.secretKey), secretKey)
    })
  )

  it.effect("a missing or empty variable is an AuthError naming the variable, never a value", () =>
    Effect.gen(function* () {
      const missing = yield* BinanceSigning.loadCredentials("binance", vars).pipe(
        withEnv({ BINANCE_API_KEY: apiKey }),
        Effect.flip
      )
      assert.instanceOf(missing, ExchangeError.AuthError)
      assert.include(missing.message, "BINANCE_API_SECRET")
      assert.notInclude(missing.message, apiKey)
      const empty = yield* BinanceSigning.loadCredentials("binance", vars).pipe(
        withEnv({ BINANCE_API_KEY: "  ", BINANCE_API_SECRET: secretKey }),
        Effect.flip
      )
      assert.strictEqual(empty.reason, "environment variable BINANCE_API_KEY is empty")
      assert.notInclude(empty.message, secretKey)
    })
  )
})
