/**
 * Coinbase CDP API-key authentication (exchanges.md §2.8): credentials read from environment variables whose
 * NAMES the user's exchange row stores, and a fresh ES256 JWT per request. Secrets stay `Redacted` until the key
 * object is built, and no error ever carries a value, only the variable's name.
 */
import { createPrivateKey, type KeyObject, randomBytes, sign as cryptoSign } from "node:crypto"
import { ExchangeError } from "@livermore/exchange"
import { Clock, Config, Effect, Redacted } from "effect"

/** Where the credentials live: the names of two environment variables, never their values. */
export interface CredentialsConfig {
  /** Variable holding the key name, `organizations/{org_id}/apiKeys/{key_id}`. */
  readonly keyNameVar: string
  /** Variable holding the EC P-256 private key PEM (`-----BEGIN EC PRIVATE KEY-----`); `\n` escapes are accepted. */
  readonly privateKeyVar: string
}

/** Loaded credentials. The key object never prints its material; the name is not secret (it is in every JWT). */
export interface Credentials {
  readonly keyName: string
  readonly privateKey: KeyObject
}

/** How long a JWT is valid: Coinbase rejects longer-lived tokens (exchanges.md §2.8). */
export const tokenLifetimeSeconds = 120

/**
 * Build credentials from a key name and PEM, checking that the key is EC P-256 (what ES256 signs with).
 * `variables` names where each came from, for the error message.
 */
export const makeCredentials = (
  exchange: string,
  keyName: Redacted.Redacted<string>,
  pem: Redacted.Redacted<string>,
  variables: CredentialsConfig
): Effect.Effect<Credentials, ExchangeError.AuthError> =>
  Effect.gen(function* () {
    const name = Redacted.value(keyName).trim()
    if (name === "") {
      return yield* new ExchangeError.AuthError({ exchange, reason: `environment variable ${variables.keyNameVar} is empty` })
    }
    // Env files often carry the PEM on one line with literal "\n" escapes.
    const text = Redacted.value(pem).replace(/\\n/g, "\n").trim()
    const privateKey = yield* Effect.try({
      try: () => createPrivateKey({ key: text, format: "pem" }),
      catch: () =>
        new ExchangeError.AuthError({
          exchange,
          reason: `environment variable ${variables.privateKeyVar} does not hold a PEM private key`
        })
    })
    if (privateKey.asymmetricKeyType !== "ec" || privateKey.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
      return yield* new ExchangeError.AuthError({
        exchange,
        reason: `environment variable ${variables.privateKeyVar} holds a ${privateKey.asymmetricKeyType ?? "unknown"} key; Coinbase API keys are EC P-256 (ES256)`
      })
    }
    return { keyName: name, privateKey }
  })

/**
 * Read the credentials through `Config.redacted` from the variables `config` names. A missing or malformed
 * variable is an `AuthError` naming the variable, never showing its value.
 */
export const loadCredentials = (
  exchange: string,
  config: CredentialsConfig
): Effect.Effect<Credentials, ExchangeError.AuthError> =>
  Effect.gen(function* () {
    const read = (variable: string) =>
      Config.redacted(variable).pipe(
        Effect.mapError(
          () => new ExchangeError.AuthError({ exchange, reason: `environment variable ${variable} is not set` })
        )
      )
    const keyName = yield* read(config.keyNameVar)
    const pem = yield* read(config.privateKeyVar)
    return yield* makeCredentials(exchange, keyName, pem, config)
  }).pipe(Effect.withSpan("CoinbaseAuth.loadCredentials"))

/**
 * The `uri` claim of a REST JWT: `"<METHOD> <host><path>"`, without scheme or query
 * (`GET api.coinbase.com/api/v3/brokerage/accounts`). The host includes a non-default port (the simulator).
 */
export const uriClaim = (method: string, url: string | URL): string => {
  const parsed = typeof url === "string" ? new URL(url) : url
  return `${method.toUpperCase()} ${parsed.host}${parsed.pathname}`
}

/** JWT header. */
export interface JwtHeader {
  readonly alg: "ES256"
  readonly kid: string
  readonly nonce: string
  readonly typ: "JWT"
}

/** JWT claims; `uri` is omitted for WebSocket tokens. */
export interface JwtClaims {
  readonly iss: "cdp"
  readonly sub: string
  readonly nbf: number
  readonly exp: number
  readonly uri?: string
}

/** What a token is for: a REST request (method and full URL), or `undefined` for a WebSocket subscribe. */
export interface JwtRequest {
  readonly method: string
  readonly url: string | URL
}

const base64url = (input: string | Buffer): string => Buffer.from(input).toString("base64url")

/**
 * Sign a JWT at `now` (ms) with ES256. JWS wants the raw 64-byte `r || s` signature, not DER, hence
 * `dsaEncoding: "ieee-p1363"`. `nonce` defaults to 16 random bytes as 32 hex characters (the SDK's length).
 */
export const signJwt = (
  credentials: Credentials,
  request: JwtRequest | undefined,
  now: number,
  nonce: string = randomBytes(16).toString("hex")
): string => {
  const header: JwtHeader = { alg: "ES256", kid: credentials.keyName, nonce, typ: "JWT" }
  const nbf = Math.floor(now / 1000)
  const claims: JwtClaims = {
    iss: "cdp",
    sub: credentials.keyName,
    nbf,
    exp: nbf + tokenLifetimeSeconds,
    ...(request === undefined ? {} : { uri: uriClaim(request.method, request.url) })
  }
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`
  const signature = cryptoSign("sha256", Buffer.from(signingInput), {
    key: credentials.privateKey,
    dsaEncoding: "ieee-p1363"
  })
  return `${signingInput}.${base64url(signature)}`
}

/** A fresh JWT at the current `Clock` time. */
export const jwt = Effect.fn("CoinbaseAuth.jwt")(function* (credentials: Credentials, request: JwtRequest | undefined) {
  const now = yield* Clock.currentTimeMillis
  return signJwt(credentials, request, now)
})
