/**
 * The `user_exchanges` table: a user's configured connections to exchanges. Credentials are never stored,
 * only the names of the environment variables that hold them; at most one connection per user is the
 * default, which the database enforces with a partial unique index.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Exchange } from "@livermore/domain"
import { Context, Effect, Layer, Option, Schema } from "effect"
import { Timestamp } from "./internal/columns.js"
import { RecordNotFound, type StoreError, wrap } from "./StoreError.js"
import { UserId } from "./UsersRepo.js"

/** Database id of a user's exchange connection. */
export const UserExchangeId = Schema.Int.pipe(Schema.positive(), Schema.brand("UserExchangeId"))
export type UserExchangeId = typeof UserExchangeId.Type

const EnvVarPattern = Schema.String.pipe(
  Schema.pattern(/^[A-Z_][A-Z0-9_]*$/, {
    message: () => "an environment variable name is uppercase letters, digits and underscores, not starting with a digit"
  })
)

/** The name of an environment variable (`COINBASE_API_KEY`), never its value; the same rule as the table's CHECK. */
export const EnvVarName = EnvVarPattern.pipe(Schema.brand("EnvVarName"))
export type EnvVarName = typeof EnvVarName.Type

/** Where an instance finds a connection's credentials: the names of two environment variables. */
export class CredentialVars extends Schema.Class<CredentialVars>("CredentialVars")({
  apiKey: EnvVarName,
  apiSecret: EnvVarName
}) {}

/** A user's connection to an exchange. */
export class UserExchange extends Schema.Class<UserExchange>("UserExchange")({
  id: UserExchangeId,
  userId: UserId,
  exchangeId: Exchange.ExchangeId,
  displayName: Schema.NonEmptyTrimmedString,
  /** None: public market data only. */
  credentials: Schema.OptionFromNullOr(CredentialVars),
  isActive: Schema.Boolean,
  isDefault: Schema.Boolean,
  createdAt: Timestamp,
  updatedAt: Timestamp
}) {}

const UserExchangeRow = Schema.Struct({
  id: Schema.Number,
  user_id: Schema.Number,
  exchange_id: Schema.Number,
  display_name: Schema.String,
  api_key_env_var: Schema.NullOr(Schema.String),
  api_secret_env_var: Schema.NullOr(Schema.String),
  is_active: Schema.Boolean,
  is_default: Schema.Boolean,
  created_at: Schema.DateFromSelf,
  updated_at: Schema.DateFromSelf
})

const UserExchangeFromRow = Schema.transform(UserExchangeRow, UserExchange, {
  strict: true,
  decode: (row) => ({
    id: row.id,
    userId: row.user_id,
    exchangeId: row.exchange_id,
    displayName: row.display_name,
    // The table's CHECK keeps the two columns both set or both NULL.
    credentials:
      row.api_key_env_var === null || row.api_secret_env_var === null
        ? null
        : { apiKey: row.api_key_env_var, apiSecret: row.api_secret_env_var },
    isActive: row.is_active,
    isDefault: row.is_default,
    createdAt: row.created_at,
    updatedAt: row.updated_at
  }),
  encode: (model) => ({
    id: model.id,
    user_id: model.userId,
    exchange_id: model.exchangeId,
    display_name: model.displayName,
    api_key_env_var: model.credentials?.apiKey ?? null,
    api_secret_env_var: model.credentials?.apiSecret ?? null,
    is_active: model.isActive,
    is_default: model.isDefault,
    created_at: model.createdAt,
    updated_at: model.updatedAt
  })
})

/** Credential variable names as given by a caller. */
export interface CredentialVarNames {
  readonly apiKey: string
  readonly apiSecret: string
}

/** A new connection. */
export interface CreateUserExchange {
  readonly userId: number
  readonly exchangeId: number
  readonly displayName: string
  /** Omit for public market data only. */
  readonly credentials?: CredentialVarNames | undefined
  /** Default true. */
  readonly isActive?: boolean | undefined
  /** Make it the user's default, unsetting the previous default in the same transaction. Default false. */
  readonly isDefault?: boolean | undefined
}

/** Fields to change; absent fields stay as they are. `credentials: null` removes the credentials. */
export interface UpdateUserExchange {
  readonly displayName?: string | undefined
  readonly credentials?: CredentialVarNames | null | undefined
  readonly isActive?: boolean | undefined
}

// Validated before the statement runs, so a bad name fails with a message rather than a CHECK violation.
const Credentials = Schema.NullOr(Schema.Struct({ apiKey: EnvVarPattern, apiSecret: EnvVarPattern }))

const CreateRequest = Schema.Struct({
  userId: Schema.Number,
  exchangeId: Schema.Number,
  displayName: Schema.NonEmptyTrimmedString,
  credentials: Credentials,
  isActive: Schema.Boolean,
  isDefault: Schema.Boolean
})

const UpdateRequest = Schema.Struct({
  id: Schema.Number,
  displayName: Schema.NullOr(Schema.NonEmptyTrimmedString),
  /** Whether `credentials` is to be written (it may be written as NULL). */
  setCredentials: Schema.Boolean,
  credentials: Credentials,
  isActive: Schema.NullOr(Schema.Boolean)
})

/** A user's exchange connections. */
export class UserExchangesRepo extends Context.Tag("@livermore/store/UserExchangesRepo")<
  UserExchangesRepo,
  {
    /** Add a connection; with `isDefault` it replaces the user's previous default atomically. */
    readonly create: (input: CreateUserExchange) => Effect.Effect<UserExchange, StoreError>
    /** Change a connection's name, credentials or active flag. Defaults change only through `setDefault`. */
    readonly update: (id: number, patch: UpdateUserExchange) => Effect.Effect<UserExchange, RecordNotFound | StoreError>
    /** A user's connections, oldest first. */
    readonly listByUser: (userId: number) => Effect.Effect<ReadonlyArray<UserExchange>, StoreError>
    /** The user's default connection, if any. */
    readonly defaultFor: (userId: number) => Effect.Effect<Option.Option<UserExchange>, StoreError>
    /**
     * Make `userExchangeId` the default of `userId`, unsetting the previous default in one transaction.
     * Fails with `RecordNotFound` if that connection is not the user's.
     */
    readonly setDefault: (
      userId: number,
      userExchangeId: number
    ) => Effect.Effect<UserExchange, RecordNotFound | StoreError>
  }
>() {}

/** Build the repository over the current `SqlClient`. */
export const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient

  const unsetDefault = SqlSchema.void({
    Request: Schema.Number,
    execute: (userId) => sql`UPDATE user_exchanges SET is_default = false WHERE user_id = ${userId} AND is_default`
  })
  const insert = SqlSchema.single({
    Request: CreateRequest,
    Result: UserExchangeFromRow,
    execute: (c) => sql`
      INSERT INTO user_exchanges
        (user_id, exchange_id, display_name, api_key_env_var, api_secret_env_var, is_active, is_default)
      VALUES (${c.userId}, ${c.exchangeId}, ${c.displayName}, ${c.credentials?.apiKey ?? null},
              ${c.credentials?.apiSecret ?? null}, ${c.isActive}, ${c.isDefault})
      RETURNING *`
  })
  const patch = SqlSchema.findOne({
    Request: UpdateRequest,
    Result: UserExchangeFromRow,
    execute: (u) => sql`
      UPDATE user_exchanges SET
        display_name = COALESCE(${u.displayName}, display_name),
        api_key_env_var = CASE WHEN ${u.setCredentials} THEN ${u.credentials?.apiKey ?? null} ELSE api_key_env_var END,
        api_secret_env_var = CASE WHEN ${u.setCredentials} THEN ${u.credentials?.apiSecret ?? null} ELSE api_secret_env_var END,
        is_active = COALESCE(${u.isActive}, is_active)
      WHERE id = ${u.id}
      RETURNING *`
  })
  const findByUser = SqlSchema.findAll({
    Request: Schema.Number,
    Result: UserExchangeFromRow,
    execute: (userId) => sql`SELECT * FROM user_exchanges WHERE user_id = ${userId} ORDER BY id`
  })
  const findDefault = SqlSchema.findOne({
    Request: Schema.Number,
    Result: UserExchangeFromRow,
    execute: (userId) => sql`SELECT * FROM user_exchanges WHERE user_id = ${userId} AND is_default`
  })
  const markDefault = SqlSchema.findOne({
    Request: Schema.Struct({ userId: Schema.Number, id: Schema.Number }),
    Result: UserExchangeFromRow,
    execute: ({ userId, id }) =>
      sql`UPDATE user_exchanges SET is_default = true WHERE id = ${id} AND user_id = ${userId} RETURNING *`
  })

  const notFound = (id: number) => new RecordNotFound({ entity: "user exchange", key: `id ${id}` })

  return UserExchangesRepo.of({
    create: Effect.fn("UserExchangesRepo.create")(
      function* (input: CreateUserExchange) {
        const isDefault = input.isDefault ?? false
        if (isDefault) yield* unsetDefault(input.userId)
        return yield* insert({
          userId: input.userId,
          exchangeId: input.exchangeId,
          displayName: input.displayName,
          credentials: input.credentials ?? null,
          isActive: input.isActive ?? true,
          isDefault
        })
      },
      sql.withTransaction,
      // RETURNING always yields the row.
      Effect.catchTag("NoSuchElementException", Effect.die),
      wrap("UserExchangesRepo.create")
    ),
    update: Effect.fn("UserExchangesRepo.update")(
      function* (id: number, changes: UpdateUserExchange) {
        const updated = yield* patch({
          id,
          displayName: changes.displayName ?? null,
          setCredentials: changes.credentials !== undefined,
          credentials: changes.credentials ?? null,
          isActive: changes.isActive ?? null
        })
        return yield* Option.match(updated, {
          onNone: () => Effect.fail(notFound(id)),
          onSome: Effect.succeed
        })
      },
      wrap("UserExchangesRepo.update")
    ),
    listByUser: Effect.fn("UserExchangesRepo.listByUser")(
      (userId: number) => findByUser(userId),
      wrap("UserExchangesRepo.listByUser")
    ),
    defaultFor: Effect.fn("UserExchangesRepo.defaultFor")(
      (userId: number) => findDefault(userId),
      wrap("UserExchangesRepo.defaultFor")
    ),
    setDefault: Effect.fn("UserExchangesRepo.setDefault")(
      function* (userId: number, userExchangeId: number) {
        // Unset first: the partial unique index would reject two defaults even inside the transaction.
        yield* unsetDefault(userId)
        const updated = yield* markDefault({ userId, id: userExchangeId })
        // Failing rolls the unset back, so the previous default survives a bad id.
        return yield* Option.match(updated, {
          onNone: () => Effect.fail(notFound(userExchangeId)),
          onSome: Effect.succeed
        })
      },
      sql.withTransaction,
      wrap("UserExchangesRepo.setDefault")
    )
  })
})

/** `UserExchangesRepo` over the `SqlClient` of a store layer. */
export const layer: Layer.Layer<UserExchangesRepo, never, SqlClient.SqlClient> = Layer.effect(UserExchangesRepo, make)
