/**
 * Turns an `Authorization` header into the admin who sent it, or says why not (`AdminUnauthorized`).
 *
 * Two kinds of bearer token:
 * - a local token (`lva_…`, `livermore admin-token create`): looked up by its SHA-256 in `admin_tokens`;
 * - an OIDC JWT (Clerk or any OIDC provider): its signature checked against the provider's JWKS, its issuer, its
 *   audience when configured, and its expiry. The person is upserted into `users`; a role claim, when the token
 *   carries one, is synced into `users.role` (`admin` if the claim is or contains "admin", else `viewer`).
 *
 * Either way, only users whose role is `admin` get through. A verified token is trusted for `trustFor` (10 s)
 * per process, so a browser's stream of calls costs one database round trip every 10 s, not one per call; a
 * revocation takes effect within that time.
 */
import { Config, ConfigError, Context, DateTime, Duration, Effect, Either, Layer, Option } from "effect"
import { errors as JoseErrors, createRemoteJWKSet, type JWTPayload, jwtVerify } from "jose"
import { AdminTokensRepo, UsersRepo } from "@livermore/store"
import { AdminUnauthorized, AdminUser, type UnauthorizedReason } from "./AdminAuth.js"

/** Where OIDC tokens come from. */
export interface OidcSettings {
  /** The provider's JWKS document, e.g. `https://<clerk-domain>/.well-known/jwks.json`. */
  readonly jwksUrl: URL
  /** The `iss` every token must carry. */
  readonly issuer: string
  /** The `aud` tokens must carry, when set. */
  readonly audience: Option.Option<string>
  /** The claim holding the role (a string or an array of strings). */
  readonly roleClaim: string
  /** `users.identity_provider` for people signed in this way, e.g. `clerk`. */
  readonly providerName: string
}

export interface VerifierSettings {
  readonly oidc: Option.Option<OidcSettings>
  /** How long a verified token is trusted without asking again. */
  readonly trustFor: Duration.Duration
}

/**
 * `ADMIN_OIDC_JWKS_URL` and `ADMIN_OIDC_ISSUER` (both or neither: neither means local tokens only),
 * `ADMIN_OIDC_AUDIENCE` (optional), `ADMIN_OIDC_ROLE_CLAIM` (default `role`), `ADMIN_OIDC_PROVIDER` (default `oidc`).
 */
export const config: Config.Config<VerifierSettings> = Config.all({
  jwksUrl: Config.option(Config.url("ADMIN_OIDC_JWKS_URL")),
  issuer: Config.option(Config.nonEmptyString("ADMIN_OIDC_ISSUER")),
  audience: Config.option(Config.nonEmptyString("ADMIN_OIDC_AUDIENCE")),
  roleClaim: Config.nonEmptyString("ADMIN_OIDC_ROLE_CLAIM").pipe(Config.withDefault("role")),
  providerName: Config.string("ADMIN_OIDC_PROVIDER").pipe(
    Config.validate({
      message: "ADMIN_OIDC_PROVIDER must be lowercase letters, digits, '_', '.' or '-', starting with a letter",
      validation: (name) => /^[a-z][a-z0-9_.-]{0,62}$/.test(name) && name !== "local"
    }),
    Config.withDefault("oidc")
  )
}).pipe(
  Config.mapOrFail(({ jwksUrl, issuer, audience, roleClaim, providerName }) => {
    if (Option.isNone(jwksUrl) && Option.isNone(issuer)) {
      return Either.right<VerifierSettings>({ oidc: Option.none(), trustFor: Duration.seconds(10) })
    }
    if (Option.isNone(jwksUrl) || Option.isNone(issuer)) {
      const missing = Option.isNone(jwksUrl) ? "ADMIN_OIDC_JWKS_URL" : "ADMIN_OIDC_ISSUER"
      return Either.left(
        ConfigError.MissingData(
          [missing],
          "ADMIN_OIDC_JWKS_URL and ADMIN_OIDC_ISSUER go together: set both to accept OIDC tokens, or neither for local tokens only"
        )
      )
    }
    return Either.right<VerifierSettings>({
      oidc: Option.some({ jwksUrl: jwksUrl.value, issuer: issuer.value, audience, roleClaim, providerName }),
      trustFor: Duration.seconds(10)
    })
  })
)

/** Checks bearer tokens (see the module comment). */
export class AdminVerifier extends Context.Tag("@livermore/admin-rpc/AdminVerifier")<
  AdminVerifier,
  {
    /** The admin behind an `Authorization` header value, or why it is refused. */
    readonly verify: (authorization: Option.Option<string>) => Effect.Effect<AdminUser, AdminUnauthorized>
  }
>() {}

const refuse = (reason: UnauthorizedReason, message: string) => Effect.fail(new AdminUnauthorized({ reason, message }))

const unavailable = (what: string) => (cause: unknown) =>
  Effect.zipRight(
    Effect.logWarning(`admin auth: ${what} failed`, cause),
    refuse("unavailable", `The server could not check the token (${what} failed); try again`)
  )

/** The role a token's claim gives, if it carries the claim at all. */
const roleFromClaim = (payload: JWTPayload, claim: string): Option.Option<"admin" | "viewer"> => {
  const value = payload[claim]
  if (typeof value === "string") return Option.some(value === "admin" ? "admin" : "viewer")
  if (Array.isArray(value)) return Option.some(value.includes("admin") ? "admin" : "viewer")
  return Option.none()
}

const stringClaim = (payload: JWTPayload, name: string): string | undefined =>
  typeof payload[name] === "string" ? (payload[name] as string) : undefined

export const make = (settings: VerifierSettings) =>
  Effect.gen(function* () {
    const tokens = yield* AdminTokensRepo.AdminTokensRepo
    const users = yield* UsersRepo.UsersRepo
    const jwks = Option.map(settings.oidc, (oidc) => ({ oidc, keys: createRemoteJWKSet(oidc.jwksUrl) }))
    const trusted = new Map<string, { readonly admin: AdminUser; readonly until: number }>()

    const toAdmin = (user: UsersRepo.User, method: AdminUser["method"]) =>
      new AdminUser({
        userId: user.id,
        identityProvider: user.identityProvider,
        subject: user.subject,
        email: Option.getOrNull(user.email),
        displayName: Option.getOrNull(user.displayName),
        role: user.role,
        method
      })

    const verifyLocal = Effect.fn("AdminVerifier.verifyLocal")(function* (token: string) {
      if (!AdminTokensRepo.looksLikeToken(token)) return yield* refuse("invalid", "Malformed admin token")
      const found = yield* tokens
        .findByHash(AdminTokensRepo.hashToken(token))
        .pipe(Effect.catchAll(unavailable("looking the token up")))
      if (Option.isNone(found)) return yield* refuse("invalid", "Unknown admin token")
      const { token: record, user } = found.value
      if (Option.isSome(record.revokedAt)) return yield* refuse("revoked", `Admin token ${record.prefix}… was revoked`)
      const now = yield* DateTime.now
      if (Option.isSome(record.expiresAt) && DateTime.lessThanOrEqualTo(record.expiresAt.value, now)) {
        return yield* refuse("expired", `Admin token ${record.prefix}… expired at ${DateTime.formatIso(record.expiresAt.value)}`)
      }
      yield* tokens.touchLastUsed(record.id).pipe(Effect.catchAll(unavailable("recording the token's use")))
      return {
        admin: toAdmin(user, "local-token"),
        expiresAtMs: Option.map(record.expiresAt, DateTime.toEpochMillis)
      }
    })

    const verifyJwt = Effect.fn("AdminVerifier.verifyJwt")(function* (token: string) {
      if (Option.isNone(jwks)) {
        return yield* refuse("invalid", "Not a local admin token (lva_…), and this server accepts no OIDC tokens (ADMIN_OIDC_JWKS_URL is not set)")
      }
      const { oidc, keys } = jwks.value
      const verified = yield* Effect.tryPromise({
        try: () =>
          jwtVerify(token, keys, {
            issuer: oidc.issuer,
            ...(Option.isSome(oidc.audience) ? { audience: oidc.audience.value } : {})
          }),
        catch: (cause) => cause
      }).pipe(
        Effect.catchAll((cause) => {
          if (cause instanceof JoseErrors.JWTExpired) return refuse("expired", "The sign-in token expired; sign in again")
          // Not a verdict on the token: the provider's keys could not be fetched.
          if (cause instanceof JoseErrors.JWKSTimeout || !(cause instanceof JoseErrors.JOSEError)) {
            return unavailable("fetching the identity provider's keys")(cause)
          }
          return refuse("invalid", `The sign-in token was refused (${cause.code})`)
        })
      )
      const payload = verified.payload
      if (payload.sub === undefined || payload.sub.trim() === "") return yield* refuse("invalid", "The sign-in token names no subject (sub)")
      const claimed = roleFromClaim(payload, oidc.roleClaim)
      const synced = yield* Effect.gen(function* () {
        const user = yield* users.upsert({
          identityProvider: oidc.providerName,
          subject: payload.sub!,
          email: stringClaim(payload, "email"),
          displayName: stringClaim(payload, "name"),
          role: Option.getOrElse(claimed, () => "viewer" as const)
        })
        return Option.isSome(claimed) && claimed.value !== user.role ? yield* users.setRole(user.id, claimed.value) : user
      }).pipe(Effect.catchAll(unavailable("recording the user")))
      return {
        admin: toAdmin(synced, "oidc"),
        expiresAtMs: payload.exp === undefined ? Option.none() : Option.some(payload.exp * 1000)
      }
    })

    const verify = Effect.fn("AdminVerifier.verify")(function* (authorization: Option.Option<string>) {
      if (Option.isNone(authorization)) return yield* refuse("missing", "No Authorization header: send 'Authorization: Bearer <token>'")
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization.value)
      if (match === null) return yield* refuse("missing", "The Authorization header is not 'Bearer <token>'")
      const token = match[1]!
      const key = AdminTokensRepo.hashToken(token)
      const nowMs = DateTime.toEpochMillis(yield* DateTime.now)
      const cached = trusted.get(key)
      let admin: AdminUser
      if (cached !== undefined && cached.until > nowMs) {
        admin = cached.admin
      } else {
        const verified = yield* token.startsWith(AdminTokensRepo.TOKEN_PREFIX) ? verifyLocal(token) : verifyJwt(token)
        admin = verified.admin
        // Trusted no longer than the token itself is valid.
        const until = Math.min(
          nowMs + Duration.toMillis(settings.trustFor),
          Option.getOrElse(verified.expiresAtMs, () => Number.POSITIVE_INFINITY)
        )
        if (trusted.size >= 1_000) for (const [k, v] of trusted) if (v.until <= nowMs) trusted.delete(k)
        trusted.set(key, { admin, until })
      }
      if (admin.role !== "admin") {
        return yield* refuse("forbidden", `${admin.email ?? admin.subject} is signed in but is not an admin (role ${admin.role})`)
      }
      return admin
    })

    return AdminVerifier.of({ verify: (authorization) => verify(authorization) })
  })

/** The verifier with `settings`, over the store's users and admin tokens. */
export const layer = (settings: VerifierSettings) => Layer.effect(AdminVerifier, make(settings))

/** The verifier configured by `config` (environment). */
export const layerConfig = Layer.unwrapEffect(Effect.map(config, layer))
