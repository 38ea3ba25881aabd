/**
 * Who gets through the admin RPC: no token, a bad one, an expired or revoked one, a valid one of a non-admin and a
 * valid admin's — local tokens and OIDC JWTs verified against a JWKS served over a real socket — over HTTP and
 * WebSocket, for unary calls and streams.
 */
import { assert, layer } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { AdminTokensRepo, UsersRepo } from "@livermore/store"
import { Context, Effect, Layer, Option, Redacted, Stream } from "effect"
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import * as S from "./support.js"

const issuer = "https://id.example.test"

/** A JWKS endpoint on a free port, and a signer with its key (plus a key it does not publish). */
class Jwks extends Context.Tag("test/Jwks")<
  Jwks,
  { readonly url: URL; readonly sign: (claims: JWTPayload, options?: { expiresIn?: string; issuer?: string; foreign?: boolean }) => Effect.Effect<string> }
>() {}

const JwksLive = Layer.scoped(
  Jwks,
  Effect.gen(function* () {
    const published = yield* Effect.promise(() => generateKeyPair("RS256"))
    const foreign = yield* Effect.promise(() => generateKeyPair("RS256"))
    const jwk = { ...(yield* Effect.promise(() => exportJWK(published.publicKey))), kid: "k1", alg: "RS256", use: "sig" }
    const server = createServer((_, response) => {
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] }))
    })
    yield* Effect.acquireRelease(
      Effect.async<void>((resume) => {
        server.listen(0, "127.0.0.1", () => resume(Effect.void))
      }),
      () =>
        Effect.async<void>((resume) => {
          server.close(() => resume(Effect.void))
        })
    )
    const { port } = server.address() as AddressInfo
    return Jwks.of({
      url: new URL(`http://127.0.0.1:${port}/.well-known/jwks.json`),
      sign: (claims, options = {}) =>
        Effect.promise(() =>
          new SignJWT(claims)
            .setProtectedHeader({ alg: "RS256", kid: "k1" })
            .setIssuer(options.issuer ?? issuer)
            .setIssuedAt()
            .setExpirationTime(options.expiresIn ?? "5 minutes")
            .sign(options.foreign === true ? foreign.privateKey : published.privateKey)
        )
    })
  })
)

const ServerLive = Layer.unwrapEffect(
  Effect.map(Jwks, ({ url }) =>
    S.serverLayer(
      S.settings(
        Option.some({ jwksUrl: url, issuer, audience: Option.none(), roleClaim: "role", providerName: "clerk" })
      )
    )
  )
).pipe(Layer.provideMerge(JwksLive))

/** A local token for a new user with `role`. */
const localToken = (role: "admin" | "viewer", name = "test") =>
  Effect.gen(function* () {
    const user = yield* (yield* UsersRepo.UsersRepo).upsert({
      identityProvider: "local",
      subject: `${role}-${crypto.randomUUID()}@example.com`,
      role
    })
    const { token, secret } = yield* (yield* AdminTokensRepo.AdminTokensRepo).create({ userId: user.id, name })
    return { user, token, secret: Redacted.value(secret) }
  })

/** The reason a WhoAmI with `auth` is refused (or "accepted"). */
const refusal = (auth: Parameters<typeof S.client>[0], transport: "http" | "websocket" = "http") =>
  Effect.gen(function* () {
    const client = yield* S.client(auth, transport)
    return yield* client.WhoAmI().pipe(
      Effect.as("accepted" as const),
      Effect.catchTag("AdminUnauthorized", (e) => Effect.succeed(e.reason))
    )
  }).pipe(Effect.scoped)

layer(ServerLive, { excludeTestServices: true, timeout: "60 seconds" })("admin RPC authentication", (it) => {
  it.effect("no token, a non-Bearer header, a malformed or unknown token: refused with a reason", () =>
    Effect.gen(function* () {
      assert.strictEqual(yield* refusal("none"), "missing")
      assert.strictEqual(yield* refusal({ raw: "Basic YWRtaW46YWRtaW4=" }), "missing")
      assert.strictEqual(yield* refusal({ token: "lva_short" }), "invalid")
      assert.strictEqual(yield* refusal({ token: `lva_${"A".repeat(43)}` }), "invalid")
      assert.strictEqual(yield* refusal({ token: "not-a-jwt" }), "invalid")
    })
  )

  it.effect("a local admin token gets in over HTTP and WebSocket; its use is recorded", () =>
    Effect.gen(function* () {
      const { user, token, secret } = yield* localToken("admin")
      for (const transport of ["http", "websocket"] as const) {
        const me = yield* Effect.scoped(Effect.flatMap(S.client({ token: secret }, transport), (c) => c.WhoAmI()))
        assert.strictEqual(me.userId, user.id, transport)
        assert.strictEqual(me.role, "admin")
        assert.strictEqual(me.method, "local-token")
      }
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ last_used_at: Date | null }>`SELECT last_used_at FROM admin_tokens WHERE id = ${token.id}`
      assert.isNotNull(rows[0]!.last_used_at)
    })
  )

  it.effect("a viewer's token is forbidden; an expired or revoked token is refused as such", () =>
    Effect.gen(function* () {
      const viewer = yield* localToken("viewer")
      assert.strictEqual(yield* refusal({ token: viewer.secret }), "forbidden")

      const expired = yield* localToken("admin")
      const sql = yield* SqlClient.SqlClient
      yield* sql`UPDATE admin_tokens SET created_at = now() - interval '2 days', expires_at = now() - interval '1 second'
                 WHERE id = ${expired.token.id}`
      assert.strictEqual(yield* refusal({ token: expired.secret }), "expired")

      const revoked = yield* localToken("admin")
      assert.strictEqual(yield* refusal({ token: revoked.secret }), "accepted")
      yield* (yield* AdminTokensRepo.AdminTokensRepo).revoke(revoked.token.id)
      assert.strictEqual(yield* refusal({ token: revoked.secret }), "revoked")
      assert.strictEqual(yield* refusal({ token: revoked.secret }, "websocket"), "revoked")
    })
  )

  it.effect("a stream call is refused like a unary one", () =>
    Effect.gen(function* () {
      const viewer = yield* localToken("viewer")
      const reason = yield* Effect.scoped(
        Effect.flatMap(S.client({ token: viewer.secret }, "websocket"), (c) =>
          c.WatchNetwork().pipe(
            Stream.take(1),
            Stream.runDrain,
            Effect.as("accepted"),
            Effect.catchTag("AdminUnauthorized", (e) => Effect.succeed(e.reason))
          )
        )
      )
      assert.strictEqual(reason, "forbidden")
    })
  )

  it.effect("OIDC: an admin's JWT gets in and the user is synced with the token's role; the role follows the claim", () =>
    Effect.gen(function* () {
      const jwks = yield* Jwks
      const subject = `user_${crypto.randomUUID()}`
      const adminJwt = yield* jwks.sign({ sub: subject, email: "ada@example.com", name: "Ada", role: "admin" })
      const me = yield* Effect.scoped(Effect.flatMap(S.client({ token: adminJwt }), (c) => c.WhoAmI()))
      assert.deepInclude(me, { identityProvider: "clerk", subject, email: "ada@example.com", displayName: "Ada", role: "admin", method: "oidc" })
      const users = yield* UsersRepo.UsersRepo
      assert.strictEqual(Option.getOrThrow(yield* users.byIdentity("clerk", subject)).role, "admin")

      // The provider demotes her: the next token says viewer, and the database follows.
      const demoted = yield* jwks.sign({ sub: subject, role: ["viewer"] })
      assert.strictEqual(yield* refusal({ token: demoted }), "forbidden")
      assert.strictEqual(Option.getOrThrow(yield* users.byIdentity("clerk", subject)).role, "viewer")

      // No role claim: a new person is a viewer.
      assert.strictEqual(yield* refusal({ token: yield* jwks.sign({ sub: `user_${crypto.randomUUID()}` }) }), "forbidden")
    })
  )

  it.effect("OIDC: an unsigned JWT, an expired one, another issuer's, one signed by an unpublished key, one without a subject", () =>
    Effect.gen(function* () {
      const jwks = yield* Jwks
      const sub = `user_${crypto.randomUUID()}`
      // Unsigned (alg "none"): {"alg":"none"}.{"sub":"x","role":"admin","iss":issuer}.
      const unsigned = `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${Buffer.from(
        JSON.stringify({ sub: "x", role: "admin", iss: issuer })
      ).toString("base64url")}.`
      assert.strictEqual(yield* refusal({ token: unsigned }), "invalid")
      assert.strictEqual(yield* refusal({ token: yield* jwks.sign({ sub, role: "admin" }, { expiresIn: "1 minute ago" }) }), "expired")
      assert.strictEqual(yield* refusal({ token: yield* jwks.sign({ sub, role: "admin" }, { issuer: "https://evil.example" }) }), "invalid")
      assert.strictEqual(yield* refusal({ token: yield* jwks.sign({ sub, role: "admin" }, { foreign: true }) }), "invalid")
      assert.strictEqual(yield* refusal({ token: yield* jwks.sign({ role: "admin" }) }), "invalid")
    })
  )
})
