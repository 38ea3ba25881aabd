import { createPublicKey, generateKeyPairSync, type KeyObject, verify } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Redacted } from "effect"
import * as CoinbaseAuth from "../src/CoinbaseAuth.js"

const keyName = "organizations/0f3c2f1e-aaaa-bbbb-cccc-123456789abc/apiKeys/9d8e7f6a-1111-2222-3333-444455556666"

const p256 = () => {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" })
  return { privateKey, publicKey, pem: privateKey.export({ type: "sec1", format: "pem" }).toString() }
}

const decodePart = (part: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as Record<string, unknown>

/** Verify an ES256 JWS with node:crypto: raw r||s (IEEE P1363) over `header.payload`. */
const verifyJwt = (token: string, publicKey: KeyObject) => {
  const parts = token.split(".")
  assert.strictEqual(parts.length, 3)
  const [header, payload, signature] = parts as [string, string, string]
  const raw = Buffer.from(signature, "base64url")
  const valid = verify("sha256", Buffer.from(`${header}.${payload}`), { key: publicKey, dsaEncoding: "ieee-p1363" }, raw)
  return { header: decodePart(header), claims: decodePart(payload), signature: raw, valid }
}

const vars = { keyNameVar: "CB_TEST_KEY_NAME", privateKeyVar: "CB_TEST_PRIVATE_KEY" }

const withEnv = (env: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

describe("CoinbaseAuth: ES256 JWT", () => {
  it.effect("header and claims exactly as CDP expects, and a valid raw 64-byte signature", () =>
    Effect.gen(function* () {
      const key = p256()
      const credentials = yield* CoinbaseAuth.makeCredentials("coinbase", Redacted.make(keyName), Redacted.make(key.pem), vars)
      const now = Date.UTC(2026, 0, 5, 10, 0, 0, 750)
      const token = CoinbaseAuth.signJwt(
        credentials,
        { method: "get", url: "https://api.coinbase.com/api/v3/brokerage/accounts?limit=250&cursor=abc" },
        now
      )
      const { header, claims, signature, valid } = verifyJwt(token, key.publicKey)
      assert.isTrue(valid)
      assert.strictEqual(signature.length, 64)
      assert.deepStrictEqual(Object.keys(header).sort(), ["alg", "kid", "nonce", "typ"])
      assert.strictEqual(header.alg, "ES256")
      assert.strictEqual(header.kid, keyName)
      assert.strictEqual(header.typ, "JWT")
      assert.match(String(header.nonce), /^[0-9a-f]{32}$/)
      assert.deepStrictEqual(claims, {
        iss: "cdp",
        sub: keyName,
        nbf: 1767607200,
        exp: 1767607320,
        uri: "GET api.coinbase.com/api/v3/brokerage/accounts"
      })
      assert.strictEqual(Number(claims.exp) - Number(claims.nbf), 120)
    })
  )

  it.effect("a wrong key does not verify, and a tampered payload does not either", () =>
    Effect.gen(function* () {
      const key = p256()
      const other = p256()
      const credentials = yield* CoinbaseAuth.makeCredentials("coinbase", Redacted.make(keyName), Redacted.make(key.pem), vars)
      const token = CoinbaseAuth.signJwt(credentials, { method: "GET", url: "https://api.coinbase.com/x" }, 0)
      assert.isFalse(verifyJwt(token, other.publicKey).valid)
      const [h, , s] = token.split(".") as [string, string, string]
      const forged = `${h}.${Buffer.from(JSON.stringify({ iss: "cdp", sub: "someone-else" })).toString("base64url")}.${s}`
      assert.isFalse(verifyJwt(forged, key.publicKey).valid)
    })
  )

  it.effect("every token has a fresh nonce and signature (ES256 is randomised: verify, never compare bytes)", () =>
    Effect.gen(function* () {
      const key = p256()
      const credentials = yield* CoinbaseAuth.makeCredentials("coinbase", Redacted.make(keyName), Redacted.make(key.pem), vars)
      const request = { method: "GET", url: "https://api.coinbase.com/api/v3/brokerage/accounts" }
      const a = CoinbaseAuth.signJwt(credentials, request, 1_000_000)
      const b = CoinbaseAuth.signJwt(credentials, request, 1_000_000)
      assert.notStrictEqual(a, b)
      assert.notStrictEqual(verifyJwt(a, key.publicKey).header.nonce, verifyJwt(b, key.publicKey).header.nonce)
      assert.isTrue(verifyJwt(a, key.publicKey).valid && verifyJwt(b, key.publicKey).valid)
      // A known nonce gives a known header and payload; only the signature varies.
      const c = CoinbaseAuth.signJwt(credentials, request, 1_000_000, "00112233445566778899aabbccddeeff")
      const d = CoinbaseAuth.signJwt(credentials, request, 1_000_000, "00112233445566778899aabbccddeeff")
      assert.strictEqual(c.split(".").slice(0, 2).join("."), d.split(".").slice(0, 2).join("."))
    })
  )

  it("uri claim: method, host (with a non-default port), path; no scheme, no query", () => {
    assert.strictEqual(
      CoinbaseAuth.uriClaim("get", "https://api.coinbase.com/api/v3/brokerage/orders/historical/fills?cursor=1"),
      "GET api.coinbase.com/api/v3/brokerage/orders/historical/fills"
    )
    assert.strictEqual(
      CoinbaseAuth.uriClaim("GET", "http://127.0.0.1:7070/api/v3/brokerage/transaction_summary"),
      "GET 127.0.0.1:7070/api/v3/brokerage/transaction_summary"
    )
  })

  it.effect("a WebSocket token has no uri claim", () =>
    Effect.gen(function* () {
      const key = p256()
      const credentials = yield* CoinbaseAuth.makeCredentials("coinbase", Redacted.make(keyName), Redacted.make(key.pem), vars)
      const { claims, valid } = verifyJwt(CoinbaseAuth.signJwt(credentials, undefined, 5_000), key.publicKey)
      assert.isTrue(valid)
      assert.isFalse("uri" in claims)
    })
  )
})

describe("CoinbaseAuth: credentials from environment variables", () => {
  it.effect("reads the variables the config names; a one-line PEM with \\n escapes is accepted", () =>
    Effect.gen(function* () {
      const key = p256()
      const credentials = yield* CoinbaseAuth.loadCredentials("coinbase", vars).pipe(
        withEnv({ CB_TEST_KEY_NAME: keyName, CB_TEST_PRIVATE_KEY: key.pem.replace(/\n/g, "\\n") })
      )
      assert.strictEqual(credentials.keyName, keyName)
      const token = CoinbaseAuth.signJwt(credentials, undefined, 0)
      assert.isTrue(verifyJwt(token, createPublicKey(credentials.privateKey)).valid)
    })
  )

  it.effect("a missing variable is an AuthError naming it", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(CoinbaseAuth.loadCredentials("coinbase", vars).pipe(withEnv({ CB_TEST_KEY_NAME: keyName })))
      assert.strictEqual(error._tag, "AuthError")
      assert.include(error.message, "CB_TEST_PRIVATE_KEY")
      assert.include(error.message, "not set")
    })
  )

  it.effect("a malformed PEM is an AuthError naming the variable, never showing the value", () =>
    Effect.gen(function* () {
      const secret = "-----BEGIN EC PRIVATE KEY-----\nTOP-SECRET-GARBAGE\n-----END EC PRIVATE KEY-----"
      const error = yield* Effect.flip(
        CoinbaseAuth.loadCredentials("coinbase", vars).pipe(
          withEnv({ CB_TEST_KEY_NAME: keyName, CB_TEST_PRIVATE_KEY: secret })
        )
      )
      assert.strictEqual(error._tag, "AuthError")
      assert.include(error.message, "CB_TEST_PRIVATE_KEY")
      assert.notInclude(error.message, "TOP-SECRET")
    })
  )

  it.effect("a key that is not EC P-256 (RSA, P-384) is refused", () =>
    Effect.gen(function* () {
      const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs8", format: "pem" })
      const p384 = generateKeyPairSync("ec", { namedCurve: "secp384r1" }).privateKey.export({ type: "sec1", format: "pem" })
      for (const pem of [rsa.toString(), p384.toString()]) {
        const error = yield* Effect.flip(
          CoinbaseAuth.loadCredentials("coinbase", vars).pipe(withEnv({ CB_TEST_KEY_NAME: keyName, CB_TEST_PRIVATE_KEY: pem }))
        )
        assert.include(error.message, "EC P-256")
        assert.include(error.message, "CB_TEST_PRIVATE_KEY")
      }
    })
  )

  it.effect("an empty key name is refused", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        CoinbaseAuth.loadCredentials("coinbase", vars).pipe(withEnv({ CB_TEST_KEY_NAME: "  ", CB_TEST_PRIVATE_KEY: p256().pem }))
      )
      assert.include(error.message, "CB_TEST_KEY_NAME")
    })
  )
})
