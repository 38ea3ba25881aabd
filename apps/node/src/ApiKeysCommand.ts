/**
 * `livermore api-keys create|list|revoke`: keys of the public API. Postgres (DATABASE_URL, or the embedded
 * database) is the record; each change is projected into the public catalog on Redis (REDIS_URL) at once, so
 * every API server — `pw-host` nodes included — sees it on the next request.
 */
import { Args, Command, Options } from "@effect/cli"
import { ApiKeysRepo, Migrations, Repositories, StoreError } from "@livermore/store"
import { Console, DateTime, Effect, Layer, Option, Redacted } from "effect"
import { PublicCatalogSync } from "@livermore/public-api"
import { logsToStderr } from "./CommandLogging.js"
import * as Storage from "./Storage.js"
import { sqlDirectory } from "./NodeLayer.js"

/** The database (migrated) and the cache the environment selects, with the repositories. */
const storage = Layer.unwrapEffect(
  Effect.map(Storage.choiceConfig, (choice) =>
    Layer.mergeAll(Repositories.layer, Migrations.layer({ directory: sqlDirectory })).pipe(
      Layer.provideMerge(Layer.merge(Storage.databaseLayer(choice), Storage.cacheLayer(choice))),
      Layer.tap(() =>
        Option.isNone(choice.redisUrl)
          ? Console.error(
              "REDIS_URL is not set: the change is stored in the database only; a node started on this database " +
                "projects its keys when it starts."
            )
          : Effect.void
      )
    )
  )
)

/** A time for a listing, or "-". */
export const when = (time: Option.Option<DateTime.Utc>): string => Option.match(time, { onNone: () => "-", onSome: DateTime.formatIso })

const create = Command.make(
  "create",
  {
    name: Options.text("name").pipe(Options.withDescription("Who or what the key is for, e.g. \"perseus-web prod\""))
  },
  ({ name }) =>
    Effect.gen(function* () {
      const created = yield* PublicCatalogSync.createKey(name)
      yield* Console.log(`Created API key ${created.apiKey.id} (${created.apiKey.name}).`)
      yield* Console.log(`Key: ${Redacted.value(created.secret)}`)
      yield* Console.log("Store it now: only its hash is kept, it cannot be shown again. Send it as the X-API-Key header.")
    }).pipe(Effect.provide(storage), Effect.provide(logsToStderr))
).pipe(Command.withDescription("Create a key and print it once"))

const list = Command.make("list", {}, () =>
  Effect.gen(function* () {
    // Uses recorded by the API servers reach the database first, so last-used is current.
    yield* PublicCatalogSync.recordUsage()
    const keys = yield* (yield* ApiKeysRepo.ApiKeysRepo).list
    if (keys.length === 0) return yield* Console.log("No API keys. Create one with: livermore api-keys create --name NAME")
    yield* Console.log(["id", "prefix", "name", "created", "last used", "revoked"].join("\t"))
    for (const key of keys) {
      yield* Console.log(
        [
          String(key.id),
          `${key.prefix}…`,
          key.name,
          DateTime.formatIso(key.createdAt),
          when(key.lastUsedAt),
          when(key.revokedAt)
        ].join("\t")
      )
    }
  }).pipe(Effect.provide(storage), Effect.provide(logsToStderr))
).pipe(Command.withDescription("List every key (never the key itself): id, prefix, name, created, last used, revoked"))

const revoke = Command.make(
  "revoke",
  { id: Args.integer({ name: "id" }).pipe(Args.withDescription("The key's id, as `list` shows it")) },
  ({ id }) =>
    Effect.gen(function* () {
      const { revoked, active } = yield* PublicCatalogSync.revokeKey(id)
      yield* Console.log(`Revoked API key ${revoked.id} (${revoked.name}); ${active} active key(s) remain.`)
    }).pipe(
      Effect.catchIf(
        (error): error is StoreError.RecordNotFound => error._tag === "RecordNotFound",
        () => Effect.fail(new StoreError.RecordNotFound({ entity: "api key", key: `id ${id} (see: livermore api-keys list)` }))
      ),
      Effect.provide(storage),
      Effect.provide(logsToStderr)
    )
).pipe(Command.withDescription("Revoke a key: requests with it get 401 from the next request on"))

export const command = Command.make("api-keys").pipe(
  Command.withDescription("Manage the public API's keys (X-API-Key)"),
  Command.withSubcommands([create, list, revoke])
)
