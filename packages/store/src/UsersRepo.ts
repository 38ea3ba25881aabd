/** The `users` table: people known through an identity provider, with a Livermore role and settings. */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Context, Effect, Layer, Option, Schema } from "effect"
import { column, Timestamp } from "./internal/columns.js"
import { RecordNotFound, type StoreError, wrap } from "./StoreError.js"

/** Database id of a user. */
export const UserId = Schema.Int.pipe(Schema.positive(), Schema.brand("UserId"))
export type UserId = typeof UserId.Type

/** What a user may do: `admin` controls instances and settings, `viewer` only reads. */
export const Role = Schema.Literal("admin", "viewer")
export type Role = typeof Role.Type

/** Free-form per-user settings (a JSON object). */
export const Settings = Schema.Record({ key: Schema.String, value: Schema.Unknown })
export type Settings = typeof Settings.Type

/** A user. Its encoded form is its row. */
export class User extends Schema.Class<User>("User")({
  id: UserId,
  /** e.g. `clerk`. */
  identityProvider: column("identity_provider", Schema.NonEmptyTrimmedString),
  /** The provider's stable id for the person. */
  subject: Schema.NonEmptyString,
  email: Schema.OptionFromNullOr(Schema.String),
  displayName: column("display_name", Schema.OptionFromNullOr(Schema.String)),
  role: Role,
  settings: Settings,
  createdAt: column("created_at", Timestamp),
  updatedAt: column("updated_at", Timestamp)
}) {}

/** What the identity provider tells us about a person. */
export interface UpsertUser {
  readonly identityProvider: string
  readonly subject: string
  readonly email?: string | undefined
  readonly displayName?: string | undefined
  /** Role for a user seen for the first time; an existing user's role is never changed by a sign-in. Default `viewer`. */
  readonly role?: Role | undefined
}

const UpsertRequest = Schema.Struct({
  identityProvider: Schema.String.pipe(Schema.pattern(/^[a-z][a-z0-9_.-]{0,62}$/)),
  subject: Schema.NonEmptyTrimmedString,
  email: Schema.NullOr(Schema.String),
  displayName: Schema.NullOr(Schema.String),
  role: Role
})

/** Users, keyed by id or by identity provider + subject. */
export class UsersRepo extends Context.Tag("@livermore/store/UsersRepo")<
  UsersRepo,
  {
    /**
     * Insert the person, or refresh email and display name if the provider + subject is known. Role and
     * settings are Livermore's and survive sign-ins.
     */
    readonly upsert: (input: UpsertUser) => Effect.Effect<User, StoreError>
    readonly byId: (id: number) => Effect.Effect<User, RecordNotFound | StoreError>
    readonly byIdentity: (identityProvider: string, subject: string) => Effect.Effect<Option.Option<User>, StoreError>
    /** Set a user's role (an identity provider's role claim, or an operator's decision). */
    readonly setRole: (id: number, role: Role) => Effect.Effect<User, RecordNotFound | StoreError>
    /** Replace a user's settings object. */
    readonly setSettings: (id: number, settings: Settings) => Effect.Effect<User, RecordNotFound | StoreError>
  }
>() {}

/** Build the repository over the current `SqlClient`. */
export const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient

  const upsert = SqlSchema.single({
    Request: UpsertRequest,
    Result: User,
    execute: (u) => sql`
      INSERT INTO users (identity_provider, subject, email, display_name, role)
      VALUES (${u.identityProvider}, ${u.subject}, ${u.email}, ${u.displayName}, ${u.role})
      ON CONFLICT (identity_provider, subject)
      DO UPDATE SET email = EXCLUDED.email, display_name = EXCLUDED.display_name
      RETURNING *`
  })
  const findById = SqlSchema.findOne({
    Request: Schema.Number,
    Result: User,
    execute: (id) => sql`SELECT * FROM users WHERE id = ${id}`
  })
  const findByIdentity = SqlSchema.findOne({
    Request: Schema.Struct({ identityProvider: Schema.String, subject: Schema.String }),
    Result: User,
    execute: ({ identityProvider, subject }) =>
      sql`SELECT * FROM users WHERE identity_provider = ${identityProvider} AND subject = ${subject}`
  })
  const updateSettings = SqlSchema.findOne({
    Request: Schema.Struct({ id: Schema.Number, settings: Schema.parseJson(Settings) }),
    Result: User,
    execute: ({ id, settings }) => sql`UPDATE users SET settings = ${settings}::jsonb WHERE id = ${id} RETURNING *`
  })

  const updateRole = SqlSchema.findOne({
    Request: Schema.Struct({ id: Schema.Number, role: Role }),
    Result: User,
    execute: ({ id, role }) => sql`UPDATE users SET role = ${role} WHERE id = ${id} RETURNING *`
  })

  const orNotFound = (id: number) =>
    Effect.flatMap(
      Option.match({
        onNone: () => Effect.fail(new RecordNotFound({ entity: "user", key: `id ${id}` })),
        onSome: (user: User) => Effect.succeed(user)
      })
    )

  return UsersRepo.of({
    upsert: Effect.fn("UsersRepo.upsert")(
      (input: UpsertUser) =>
        upsert({
          identityProvider: input.identityProvider,
          subject: input.subject,
          email: input.email ?? null,
          displayName: input.displayName ?? null,
          role: input.role ?? "viewer"
        }),
      // RETURNING always yields the row, so NoSuchElementException cannot happen.
      Effect.catchTag("NoSuchElementException", Effect.die),
      wrap("UsersRepo.upsert")
    ),
    byId: Effect.fn("UsersRepo.byId")((id: number) => findById(id).pipe(orNotFound(id)), wrap("UsersRepo.byId")),
    byIdentity: Effect.fn("UsersRepo.byIdentity")(
      (identityProvider: string, subject: string) => findByIdentity({ identityProvider, subject }),
      wrap("UsersRepo.byIdentity")
    ),
    setRole: Effect.fn("UsersRepo.setRole")(
      (id: number, role: Role) => updateRole({ id, role }).pipe(orNotFound(id)),
      wrap("UsersRepo.setRole")
    ),
    setSettings: Effect.fn("UsersRepo.setSettings")(
      (id: number, settings: Settings) => updateSettings({ id, settings }).pipe(orNotFound(id)),
      wrap("UsersRepo.setSettings")
    )
  })
})

/** `UsersRepo` over the `SqlClient` of a store layer. */
export const layer: Layer.Layer<UsersRepo, never, SqlClient.SqlClient> = Layer.effect(UsersRepo, make)
