#!/usr/bin/env node
/** Entry point of the `livermore` command: composes the runtime, reports failures in one line. */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Config, Console, Effect, Layer, Logger, LogLevel, Option } from "effect"
import * as Cli from "./Cli.js"
import * as ErrorReport from "./ErrorReport.js"

/** `LOG_LEVEL` (default Info): the least severe level that is logged. */
const LogLevelLive = Layer.unwrapEffect(
  Effect.map(Config.logLevel("LOG_LEVEL").pipe(Config.withDefault(LogLevel.Info)), Logger.minimumLogLevel)
)

const program = Effect.suspend(() => Cli.run(process.argv)).pipe(
  Effect.provide(Layer.merge(NodeContext.layer, LogLevelLive)),
  Effect.tapErrorCause((cause) =>
    Option.match(ErrorReport.describe(cause), {
      onNone: () => Effect.void,
      onSome: (line) => Console.error(`livermore: ${line}`)
    })
  )
)

// Without a listener, a reader that goes away (`livermore indicators … | head`) makes the next write raise an
// unhandled 'error' event and a stack trace; with one, the failure reaches the write's own callback instead.
process.stdout.on("error", () => {})

NodeRuntime.runMain(program, { disableErrorReporting: true })
