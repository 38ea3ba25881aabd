/** The `livermore` command: its subcommands and what each composes. */
import { Command, Options } from "@effect/cli"
import { Migrations } from "@livermore/store"
import { ConfigError, Console, Effect, Layer, Option } from "effect"
import * as AdminTokenCommand from "./AdminTokenCommand.js"
import * as ApiKeysCommand from "./ApiKeysCommand.js"
import * as DemoCommand from "./DemoCommand.js"
import * as HarnessCommand from "./HarnessCommand.js"
import * as NodeHttp from "./HttpServer.js"
import * as IndicatorsCommand from "./IndicatorsCommand.js"
import * as NodeLayer from "./NodeLayer.js"
import * as NodeSettings from "./NodeSettings.js"
import * as SimCommand from "./SimCommand.js"
import * as Storage from "./Storage.js"
import { version } from "./Version.js"

const sqlDirectory = NodeLayer.sqlDirectory

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

const startFlags = {
  mode: Options.choice("mode", ["exchange", "pw-host", "all"]).pipe(
    Options.withDescription("exchange: ingest one exchange; pw-host: public API from Redis only; all: everything (default; LIVERMORE_MODE)"),
    Options.optional
  ),
  exchange: Options.text("exchange").pipe(
    Options.withDescription("The exchange this node serves, by name (LIVERMORE_EXCHANGE); it waits idle for a start command"),
    Options.optional
  ),
  autostart: Options.text("autostart").pipe(
    Options.withDescription("Serve this exchange at once instead of waiting idle for a start command"),
    Options.optional
  ),
  takeover: Options.boolean("takeover").pipe(
    Options.withDescription("With --autostart: if another instance serves the exchange, ask it to stop and take over")
  )
}

const start = Command.make("start", startFlags, (flags) =>
  Effect.gen(function* () {
    const choice = yield* Storage.choiceConfig
    // Read before the slow storage start, so a bad setting fails at once.
    yield* NodeHttp.ListenConfig
    const settings = yield* NodeSettings.config(flags)
    if (settings.mode === "pw-host" && Option.isNone(choice.redisUrl)) {
      return yield* Effect.fail(
        ConfigError.InvalidData([], "mode pw-host serves the public API from Redis: set REDIS_URL")
      )
    }
    yield* Effect.logInfo(`Livermore ${version} starting: ${NodeSettings.describe(settings)}`)
    const storageLines =
      settings.mode === "pw-host"
        ? ["database: none (pw-host serves from Redis only)", Storage.describeChoice(choice)[1]!]
        : Storage.describeChoice(choice)
    for (const line of storageLines) yield* Effect.logInfo(`Storage ${line}`)

    return yield* Layer.launch(NodeLayer.make(settings, choice))
  })
).pipe(
  Command.withDescription(
    "Start a node: HTTP server on PORT (default 3000) with /health and /metrics, storage from REDIS_URL and " +
      "DATABASE_URL (the embedded default when unset), migrations applied. It starts idle unless --autostart names " +
      "an exchange; control commands arrive over Redis. Stops cleanly on SIGINT/SIGTERM."
  )
)

const livermore = Command.make("livermore").pipe(
  Command.withDescription("Livermore: real-time crypto market monitoring. See README.md for configuration."),
  Command.withSubcommands([
    start,
    migrate,
    ApiKeysCommand.command,
    AdminTokenCommand.command,
    DemoCommand.command,
    IndicatorsCommand.command,
    SimCommand.command,
    HarnessCommand.command
  ])
)

/** Parse `argv` (as `process.argv`) and run the chosen command. */
export const run = Command.run(livermore, { name: "livermore", version })
