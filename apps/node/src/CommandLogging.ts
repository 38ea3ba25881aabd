/**
 * Log lines of the one-shot management commands (`api-keys`, `admin-token`) — migrations, warnings — on stderr:
 * stdout carries only the command's own output, so a listing can be piped into other tools.
 */
import { Layer, Logger } from "effect"

export const logsToStderr = Layer.mergeAll(
  // The runtime's pretty logger (NodeRuntime.runMain puts it in place of the default one), moved to stderr.
  Logger.replace(Logger.prettyLoggerDefault, Logger.prettyLogger({ stderr: true })),
  Logger.remove(Logger.defaultLogger)
)
