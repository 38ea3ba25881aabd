/** The `livermore` command: its subcommands and what each composes. */
import { Command } from "@effect/cli"
import { HttpLayerRouter, HttpServer } from "@effect/platform"
import { Migrations } from "@livermore/store"
import { Cause, Console, Effect, Exit, Layer } from "effect"
import * as NodeHttp from "./HttpServer.js"
import * as IndicatorsCommand from "./IndicatorsCommand.js"
import * as NodeStatus from "./NodeStatus.js"
import * as SimCommand from "./SimCommand.js"
import * as Storage from "./Storage.js"
import { version } from "./Version.js"

const sqlDirectory = Migrations.repoSqlDirectory()

const migrate = Command.make("migrate", {}, () =>
  Effect.gen(function* () {
    const choice = yield* Storage.choiceConfig
    yield* Console.log(Storage.describeChoice(choice)[0]!)
    const report = yield* Migrations.run({ directory: sqlDirectory }).pipe(
      Effect.provide(Storage.databaseLayer(choice))
    )
    for (const applied of report.applied) yield* Console.log(`applied ${applied.file} (${applied.durationMs} ms)`)
    yield* Console.log(
      report.applied.length === 0
        ? `Nothing to apply: all ${report.skipped.length} migrations were already applied.`
        : `Applied ${report.applied.length} migration(s); ${report.skipped.length} were already applied.`
    )
  })
).pipe(
  Command.withDescription(
    "Apply the pending migrations of sql/ to the database (DATABASE_URL, or the embedded one when it is unset). " +
      "Each file runs in its own transaction; a second run applies nothing; a changed applied file is an error."
  )
)

/** Logs the address once the server listens, and (released first) that shutdown has begun. */
const AnnounceListening = Layer.scopedDiscard(
  Effect.gen(function* () {
    yield* HttpServer.addressFormattedWith((address) =>
      Effect.logInfo(`Listening on ${address}; state idle: serving no exchange until told to start`)
    )
    yield* Effect.addFinalizer(() => Effect.logInfo("Stopping: closing the server, cache and database"))
  })
)

/** Logged last on a clean shutdown, after every other resource has been released. */
const AnnounceStopped = Layer.scopedDiscard(
  Effect.addFinalizer((exit) =>
    Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause) ? Effect.logInfo("Stopped cleanly") : Effect.void
  )
)

const start = Command.make("start", {}, () =>
  Effect.gen(function* () {
    const choice = yield* Storage.choiceConfig
    // Read before the slow storage start, so a bad PORT fails at once.
    yield* NodeHttp.ListenConfig
    yield* Effect.logInfo(`Livermore ${version} starting`)
    for (const line of Storage.describeChoice(choice)) yield* Effect.logInfo(`Storage ${line}`)

    const storage = Layer.provideMerge(
      Migrations.layer({ directory: sqlDirectory }),
      Storage.layer(choice).pipe(Layer.tap(() => Effect.logInfo("Storage connected; applying migrations")))
    )
    const server = HttpLayerRouter.serve(NodeHttp.HealthRoute, { disableListenLog: true, disableLogger: true }).pipe(
      Layer.provide(NodeStatus.layer),
      Layer.merge(AnnounceListening),
      Layer.provide(NodeHttp.layerNode),
      Layer.provide(storage),
      Layer.provide(AnnounceStopped)
    )
    return yield* Layer.launch(server)
  })
).pipe(
  Command.withDescription(
    "Start a node: HTTP server on PORT (default 3000) with /health, storage from REDIS_URL and DATABASE_URL " +
      "(the embedded default when unset), migrations applied. The node starts idle. Stops cleanly on SIGINT/SIGTERM."
  )
)

const livermore = Command.make("livermore").pipe(
  Command.withDescription("Livermore: real-time crypto market monitoring. See README.md for configuration."),
  Command.withSubcommands([start, migrate, IndicatorsCommand.command, SimCommand.command])
)

/** Parse `argv` (as `process.argv`) and run the chosen command. */
export const run = Command.run(livermore, { name: "livermore", version })
