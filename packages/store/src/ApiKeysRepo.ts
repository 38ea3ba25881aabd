/**
 * The `api_keys` table: keys of the public API (domain.md §8). A key is a random UUID, shown once when
 * created; only its SHA-256 and a short prefix are stored.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Context, Effect, Layer, Option, Redacted, Schema } from "effect"
import { createHash, randomUUID } from "node:crypto"
import { column, OptionalTimestamp, Timestamp } from "./internal/columns.js"
import { RecordNotFound, type StoreError, wrap } from "./StoreError.js"
import { UserId } from "./UsersRepo.js"

/** Database id of an API key. */
export const ApiKeyId = Schema.Int.pipe(Schema.positive(), Schema.brand("ApiKeyId"))
export type ApiKeyId = typeof ApiKeyId.Type

/** Characters of the key kept in clear, enough to tell keys apart in a list. */
export const PREFIX_LENGTH = 8

/** An API key as stored: never the key itself. Its encoded form is its row. */
export class ApiKey extends Schema.Class<ApiKey>("ApiKey")({
  id: ApiKeyId,
  /** The first characters of the key, for humans. */
  prefix: Schema.String,
  name: Schema.NonEmptyTrimmedString,
  ownerUserId: column("owner_user_id", Schema.OptionFromNullOr(UserId)),
  createdAt: column("created_at", Timestamp),
  lastUsedAt: column("last_used_at", OptionalTimestamp),
  revokedAt: column("revoked_at", OptionalTimestamp)
}) {
  /** Whether the key still authenticates. */
  get isActive(): boolean {
    return Option.isNone(this.revokedAt)
  }
}

/** SHA-256 (lowercase hex) of a key: what `findActiveByHash` looks up. */
export const hashKey = (key: string): string => createHash("sha256").update(key, "utf8").digest("hex")

/** A new key. */
export interface CreateApiKey {
  readonly name: string
  readonly ownerUserId?: number | undefined
}

/** A key just created: the only moment its secret exists outside the client. */
export interface CreatedApiKey {
  readonly apiKey: ApiKey
  /** The key to hand to the client (a UUID); it cannot be recovered later. */
  readonly secret: Redacted.Redacted<string>
}

const InsertRequest = Schema.Struct({
  keyHash: Schema.String.pipe(Schema.pattern(/^[0-9a-f]{64}$/)),
  prefix: Schema.String,
  name: Schema.NonEmptyTrimmedString,
  ownerUserId: Schema.NullOr(Schema.Number)
})

/** Public API keys. */
export class ApiKeysRepo extends Context.Tag("@livermore/store/ApiKeysRepo")<
  ApiKeysRepo,
  {
    /** Generate a key, store its hash and prefix, and return it once. */
    readonly create: (input: CreateApiKey) => Effect.Effect<CreatedApiKey, StoreError>
    /** The unrevoked key whose hash is `keyHash` (see `hashKey`). */
    readonly findActiveByHash: (keyHash: string) => Effect.Effect<Option.Option<ApiKey>, StoreError>
    /** Every key, revoked ones included, oldest first. */
    readonly list: Effect.Effect<ReadonlyArray<ApiKey>, StoreError>
    /** Revoke a key; revoking it again keeps the first revocation time. */
    readonly revoke: (id: number) => Effect.Effect<ApiKey, RecordNotFound | StoreError>
    /** Record that a key was just used. */
    readonly touchLastUsed: (id: number) => Effect.Effect<void, StoreError>
    /** Record a use at `at`, unless a later one is already recorded (uses reported late by API servers). */
    readonly recordLastUsed: (id: number, at: Date) => Effect.Effect<void, StoreError>
    /** Every unrevoked key with its hash: what the API servers' catalog is projected from. */
    readonly activeHashes: Effect.Effect<ReadonlyArray<{ readonly key: ApiKey; readonly keyHash: string }>, StoreError>
    /**
     * Run `effect` in a transaction holding the keys' advisory lock, so that work which reads the keys and acts
     * on what it read (projecting them into the cache) cannot interleave with another such work or a revocation
     * done under the same lock.
     */
    readonly exclusively: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | StoreError, R>
  }
>() {}

/** Build the repository over the current `SqlClient`. */
export const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient

  const insert = SqlSchema.single({
    Request: InsertRequest,
    Result: ApiKey,
    execute: (k) => sql`
      INSERT INTO api_keys (key_hash, prefix, name, owner_user_id)
      VALUES (${k.keyHash}, ${k.prefix}, ${k.name}, ${k.ownerUserId})
      RETURNING *`
  })
  const findActive = SqlSchema.findOne({
    Request: Schema.String,
    Result: ApiKey,
    execute: (keyHash) => sql`SELECT * FROM api_keys WHERE key_hash = ${keyHash} AND revoked_at IS NULL`
  })
  const findAll = SqlSchema.findAll({
    Request: Schema.Void,
    Result: ApiKey,
    execute: () => sql`SELECT * FROM api_keys ORDER BY created_at, id`
  })
  const markRevoked = SqlSchema.findOne({
    Request: Schema.Number,
    Result: ApiKey,
    execute: (id) =>
      sql`UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = ${id} RETURNING *`
  })
  const markUsed = SqlSchema.void({
    Request: Schema.Number,
    execute: (id) => sql`UPDATE api_keys SET last_used_at = now() WHERE id = ${id}`
  })

  const markUsedAt = SqlSchema.void({
    Request: Schema.Struct({ id: Schema.Number, at: Schema.DateFromSelf }),
    execute: ({ id, at }) =>
      sql`UPDATE api_keys SET last_used_at = GREATEST(COALESCE(last_used_at, ${at}), ${at}) WHERE id = ${id}`
  })
  const ActiveRow = Schema.Struct({ ...ApiKey.fields, keyHash: column("key_hash", Schema.String) })
  const findActiveRows = SqlSchema.findAll({
    Request: Schema.Void,
    Result: ActiveRow,
    execute: () => sql`SELECT * FROM api_keys WHERE revoked_at IS NULL ORDER BY id`
  })

  return ApiKeysRepo.of({
    create: Effect.fn("ApiKeysRepo.create")(
      function* (input: CreateApiKey) {
        const secret = randomUUID()
        const apiKey = yield* insert({
          keyHash: hashKey(secret),
          prefix: secret.slice(0, PREFIX_LENGTH),
          name: input.name,
          ownerUserId: input.ownerUserId ?? null
        })
        return { apiKey, secret: Redacted.make(secret) }
      },
      // RETURNING always yields the row.
      Effect.catchTag("NoSuchElementException", Effect.die),
      wrap("ApiKeysRepo.create")
    ),
    findActiveByHash: Effect.fn("ApiKeysRepo.findActiveByHash")(
      (keyHash: string) => findActive(keyHash),
      wrap("ApiKeysRepo.findActiveByHash")
    ),
    list: findAll(undefined).pipe(wrap("ApiKeysRepo.list"), Effect.withSpan("ApiKeysRepo.list")),
    revoke: Effect.fn("ApiKeysRepo.revoke")(
      function* (id: number) {
        return yield* Option.match(yield* markRevoked(id), {
          onNone: () => Effect.fail(new RecordNotFound({ entity: "api key", key: `id ${id}` })),
          onSome: Effect.succeed
        })
      },
      wrap("ApiKeysRepo.revoke")
    ),
    touchLastUsed: Effect.fn("ApiKeysRepo.touchLastUsed")((id: number) => markUsed(id), wrap("ApiKeysRepo.touchLastUsed")),
    recordLastUsed: Effect.fn("ApiKeysRepo.recordLastUsed")(
      (id: number, at: Date) => markUsedAt({ id, at }),
      wrap("ApiKeysRepo.recordLastUsed")
    ),
    activeHashes: findActiveRows(undefined).pipe(
      Effect.map((rows) =>
        rows.map((row) => ({
          key: new ApiKey({
            id: row.id,
            prefix: row.prefix,
            name: row.name,
            ownerUserId: row.ownerUserId,
            createdAt: row.createdAt,
            lastUsedAt: row.lastUsedAt,
            revokedAt: row.revokedAt
          }),
          keyHash: row.keyHash
        }))
      ),
      wrap("ApiKeysRepo.activeHashes"),
      Effect.withSpan("ApiKeysRepo.activeHashes")
    ),
    exclusively: <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      sql`SELECT pg_advisory_xact_lock(hashtext('livermore.api_keys'))`.pipe(
        Effect.zipRight(effect),
        sql.withTransaction,
        wrap("ApiKeysRepo.exclusively"),
        Effect.withSpan("ApiKeysRepo.exclusively")
      )
  })
})

/** `ApiKeysRepo` over the `SqlClient` of a store layer. */
export const layer: Layer.Layer<ApiKeysRepo, never, SqlClient.SqlClient> = Layer.effect(ApiKeysRepo, make)
