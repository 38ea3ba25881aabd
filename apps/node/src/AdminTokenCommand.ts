/**
 * `livermore admin-token create|list|revoke`: local bearer tokens for the admin RPC and web UI, for sites without an
 * identity provider (and for scripts beside one). Only the database is needed (DATABASE_URL, or the embedded one).
 */
import { Args, Command, Options } from "@effect/cli"
import { AdminTokensRepo, Migrations, Repositories, StoreError, UsersRepo } from "@livermore/store"
import { Console, Data, DateTime, Duration, Effect, Layer, Option, Redacted } from "effect"
import { when } from "./ApiKeysCommand.js"
import { logsToStderr } from "./CommandLogging.js"
import { sqlDirectory } from "./NodeLayer.js"
import * as Storage from "./Storage.js"

/** The database the environment selects, migrated, with the repositories. */
const database = Layer.unwrapEffect(
  Effect.map(Storage.choiceConfig, (choice) =>
    Layer.mergeAll(Repositories.layer, Migrations.layer({ directory: sqlDirectory })).pipe(
      Layer.provideMerge(Storage.databaseLayer(choice))
    )
  )
)

/** `--expires` is neither a duration nor "never". */
export class InvalidExpiry extends Data.TaggedError("InvalidExpiry")<{ readonly value: string }> {
  override get message(): string {
    return `--expires "${this.value}" is not a duration: use e.g. "30 days", "12 hours" or "never"`
  }
}

const create = Command.make(
  "create",
  {
    user: Options.text("user").pipe(
      Options.withDescription("Who the token acts as: an email or a name. The user is created if new.")
    ),
    name: Options.text("name").pipe(
      Options.withDescription("What the token is for, e.g. \"ops laptop\""),
      Options.withDefault("admin web UI")
    ),
    role: Options.choice("role", ["admin", "viewer"]).pipe(
      Options.withDescription("The user's role (default admin for a new user; given, it changes an existing user's)"),
      Options.optional
    ),
    expires: Options.text("expires").pipe(
      Options.withDescription("Lifetime, e.g. \"30 days\", or \"never\" (default 90 days)"),
      Options.withDefault("90 days")
    )
  },
  ({ user, name, role, expires }) =>
    Effect.gen(function* () {
      const lifetime =
        expires.trim() === "never"
          ? Option.none()
          : Option.some(
              yield* Option.match(Duration.decodeUnknown(expires.trim()), {
                onNone: () => Effect.fail(new InvalidExpiry({ value: expires })),
                onSome: Effect.succeed
              })
            )
      const users = yield* UsersRepo.UsersRepo
      const upserted = yield* users.upsert({
        identityProvider: "local",
        subject: user,
        email: user.includes("@") ? user : undefined,
        role: Option.getOrElse(role, () => "admin" as const)
      })
      const person = Option.isSome(role) && role.value !== upserted.role ? yield* users.setRole(upserted.id, role.value) : upserted
      const expiresAt = Option.map(lifetime, (d) => DateTime.addDuration(DateTime.unsafeNow(), d))
      const { token, secret } = yield* (yield* AdminTokensRepo.AdminTokensRepo).create({
        userId: person.id,
        name,
        expiresAt: Option.getOrUndefined(expiresAt)
      })
      yield* Console.log(`Created admin token ${token.id} (${token.name}) for ${person.subject}, role ${person.role}.`)
      yield* Console.log(`Token: ${Redacted.value(secret)}`)
      yield* Console.log(
        `Expires: ${Option.match(expiresAt, { onNone: () => "never (revoke it when done)", onSome: DateTime.formatIso })}`
      )
      yield* Console.log(
        "Store it now: only its hash is kept, it cannot be shown again. Sign in to /admin with it, or send it as " +
          "'Authorization: Bearer <token>' to /admin/rpc."
      )
    }).pipe(Effect.provide(database), Effect.provide(logsToStderr))
).pipe(Command.withDescription("Create a token and print it once"))

const list = Command.make("list", {}, () =>
  Effect.gen(function* () {
    const tokens = yield* (yield* AdminTokensRepo.AdminTokensRepo).list
    if (tokens.length === 0) return yield* Console.log("No admin tokens. Create one with: livermore admin-token create --user EMAIL")
    const users = yield* UsersRepo.UsersRepo
    yield* Console.log(["id", "prefix", "name", "user", "role", "created", "expires", "last used", "revoked"].join("\t"))
    for (const token of tokens) {
      const user = yield* users.byId(token.userId)
      yield* Console.log(
        [
          String(token.id),
          `${token.prefix}…`,
          token.name,
          user.subject,
          user.role,
          DateTime.formatIso(token.createdAt),
          when(token.expiresAt),
          when(token.lastUsedAt),
          when(token.revokedAt)
        ].join("\t")
      )
    }
  }).pipe(Effect.provide(database), Effect.provide(logsToStderr))
).pipe(Command.withDescription("List every token (never the token itself)"))

const revoke = Command.make(
  "revoke",
  { id: Args.integer({ name: "id" }).pipe(Args.withDescription("The token's id, as `list` shows it")) },
  ({ id }) =>
    Effect.gen(function* () {
      const token = yield* (yield* AdminTokensRepo.AdminTokensRepo).revoke(id)
      yield* Console.log(`Revoked admin token ${token.id} (${token.name}); it is refused within 10 seconds everywhere.`)
    }).pipe(
      Effect.catchIf(
        (error): error is StoreError.RecordNotFound => error._tag === "RecordNotFound",
        () => Effect.fail(new StoreError.RecordNotFound({ entity: "admin token", key: `id ${id} (see: livermore admin-token list)` }))
      ),
      Effect.provide(database),
      Effect.provide(logsToStderr)
    )
).pipe(Command.withDescription("Revoke a token"))

export const command = Command.make("admin-token").pipe(
  Command.withDescription("Manage local admin tokens (for the admin web UI and /admin/rpc)"),
  Command.withSubcommands([create, list, revoke])
)
