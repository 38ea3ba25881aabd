/**
 * The `admin_tokens` table: local bearer tokens for the admin RPC (`livermore admin-token create`). A token is
 * `lva_` followed by 43 random base64url characters (256 bits), shown once; only its SHA-256 and prefix are kept.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Context, DateTime, Effect, Layer, Option, Redacted, Schema } from "effect"
import { createHash, randomBytes } from "node:crypto"
import { column, OptionalTimestamp, Timestamp } from "./internal/columns.js"
import { RecordNotFound, type StoreError, wrap } from "./StoreError.js"
import { User, UserId } from "./UsersRepo.js"

/** Database id of an admin token. */
export const AdminTokenId = Schema.Int.pipe(Schema.positive(), Schema.brand("AdminTokenId"))
export type AdminTokenId = typeof AdminTokenId.Type

/** What every local admin token starts with: tells it apart from a JWT and from a public API key. */
export const TOKEN_PREFIX = "lva_"

/** Characters of the token kept in clear (its `lva_` and four more), enough to tell tokens apart in a list. */
export const PREFIX_LENGTH = 8

/** An admin token as stored: never the token itself. Its encoded form is its row. */
export class AdminToken extends Schema.Class<AdminToken>("AdminToken")({
  id: AdminTokenId,
  userId: column("user_id", UserId),
  prefix: Schema.String,
  name: Schema.NonEmptyTrimmedString,
  createdAt: column("created_at", Timestamp),
  expiresAt: column("expires_at", OptionalTimestamp),
  lastUsedAt: column("last_used_at", OptionalTimestamp),
  revokedAt: column("revoked_at", OptionalTimestamp)
}) {}

/** SHA-256 (lowercase hex) of a token: what `findByHash` looks up. */
export const hashToken = (token: string): string => createHash("sha256").update(token, "utf8").digest("hex")

/** Whether `text` has the shape of a local admin token (a cheap check before hashing and a query). */
export const looksLikeToken = (text: string): boolean => /^lva_[A-Za-z0-9_-]{43}$/.test(text)

/** A new token for `userId`, valid until `expiresAt` (none: until revoked). */
export interface CreateAdminToken {
  readonly userId: number
  readonly name: string
  readonly expiresAt?: DateTime.Utc | undefined
}

/** A token just created: the only moment it exists outside the client. */
export interface CreatedAdminToken {
  readonly token: AdminToken
  readonly secret: Redacted.Redacted<string>
}

const InsertRequest = Schema.Struct({
  userId: Schema.Number,
  tokenHash: Schema.String.pipe(Schema.pattern(/^[0-9a-f]{64}$/)),
  prefix: Schema.String,
  name: Schema.NonEmptyTrimmedString,
  expiresAt: Schema.NullOr(Schema.DateFromSelf)
})

/** A token found by its hash, with its user: revoked and expired ones included, so callers can say which. */
export interface TokenWithUser {
  readonly token: AdminToken
  readonly user: User
}

/** Local admin tokens. */
export class AdminTokensRepo extends Context.Tag("@livermore/store/AdminTokensRepo")<
  AdminTokensRepo,
  {
    readonly create: (input: CreateAdminToken) => Effect.Effect<CreatedAdminToken, StoreError>
    /** The token whose hash is `tokenHash` (see `hashToken`) and its user, revoked or expired or not. */
    readonly findByHash: (tokenHash: string) => Effect.Effect<Option.Option<TokenWithUser>, StoreError>
    /** Every token, revoked ones included, oldest first. */
    readonly list: Effect.Effect<ReadonlyArray<AdminToken>, StoreError>
    /** Revoke a token; revoking it again keeps the first revocation time. */
    readonly revoke: (id: number) => Effect.Effect<AdminToken, RecordNotFound | StoreError>
    /** Record that a token was just used. */
    readonly touchLastUsed: (id: number) => Effect.Effect<void, StoreError>
  }
>() {}

/** Build the repository over the current `SqlClient`. */
export const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient

  const insert = SqlSchema.single({
    Request: InsertRequest,
    Result: AdminToken,
    execute: (t) => sql`
      INSERT INTO admin_tokens (user_id, token_hash, prefix, name, expires_at)
      VALUES (${t.userId}, ${t.tokenHash}, ${t.prefix}, ${t.name}, ${t.expiresAt})
      RETURNING id, user_id, prefix, name, created_at, expires_at, last_used_at, revoked_at`
  })
  const findToken = SqlSchema.findOne({
    Request: Schema.String,
    Result: Schema.Struct({ ...AdminToken.fields }),
    execute: (tokenHash) => sql`
      SELECT id, user_id, prefix, name, created_at, expires_at, last_used_at, revoked_at
      FROM admin_tokens WHERE token_hash = ${tokenHash}`
  })
  const findUser = SqlSchema.single({
    Request: Schema.Number,
    Result: User,
    execute: (id) => sql`SELECT * FROM users WHERE id = ${id}`
  })
  const findAll = SqlSchema.findAll({
    Request: Schema.Void,
    Result: AdminToken,
    execute: () => sql`
      SELECT id, user_id, prefix, name, created_at, expires_at, last_used_at, revoked_at
      FROM admin_tokens ORDER BY created_at, id`
  })
  const markRevoked = SqlSchema.findOne({
    Request: Schema.Number,
    Result: AdminToken,
    execute: (id) => sql`
      UPDATE admin_tokens SET revoked_at = COALESCE(revoked_at, now()) WHERE id = ${id}
      RETURNING id, user_id, prefix, name, created_at, expires_at, last_used_at, revoked_at`
  })
  const markUsed = SqlSchema.void({
    Request: Schema.Number,
    execute: (id) => sql`UPDATE admin_tokens SET last_used_at = now() WHERE id = ${id}`
  })

  return AdminTokensRepo.of({
    create: Effect.fn("AdminTokensRepo.create")(
      function* (input: CreateAdminToken) {
        const secret = TOKEN_PREFIX + randomBytes(32).toString("base64url")
        const token = yield* insert({
          userId: input.userId,
          tokenHash: hashToken(secret),
          prefix: secret.slice(0, PREFIX_LENGTH),
          name: input.name,
          expiresAt: input.expiresAt === undefined ? null : DateTime.toDateUtc(input.expiresAt)
        })
        return { token, secret: Redacted.make(secret) }
      },
      // RETURNING always yields the row.
      Effect.catchTag("NoSuchElementException", Effect.die),
      wrap("AdminTokensRepo.create")
    ),
    findByHash: Effect.fn("AdminTokensRepo.findByHash")(
      function* (tokenHash: string) {
        const row = yield* findToken(tokenHash)
        if (Option.isNone(row)) return Option.none()
        // The foreign key (ON DELETE CASCADE) guarantees the user.
        const user = yield* findUser(row.value.userId).pipe(Effect.catchTag("NoSuchElementException", Effect.die))
        return Option.some({ token: new AdminToken(row.value), user })
      },
      wrap("AdminTokensRepo.findByHash")
    ),
    list: findAll(undefined).pipe(wrap("AdminTokensRepo.list"), Effect.withSpan("AdminTokensRepo.list")),
    revoke: Effect.fn("AdminTokensRepo.revoke")(
      function* (id: number) {
        return yield* Option.match(yield* markRevoked(id), {
          onNone: () => Effect.fail(new RecordNotFound({ entity: "admin token", key: `id ${id}` })),
          onSome: Effect.succeed
        })
      },
      wrap("AdminTokensRepo.revoke")
    ),
    touchLastUsed: Effect.fn("AdminTokensRepo.touchLastUsed")(
      (id: number) => markUsed(id),
      wrap("AdminTokensRepo.touchLastUsed")
    )
  })
})

/** `AdminTokensRepo` over the `SqlClient` of a store layer. */
export const layer: Layer.Layer<AdminTokensRepo, never, SqlClient.SqlClient> = Layer.effect(AdminTokensRepo, make)
