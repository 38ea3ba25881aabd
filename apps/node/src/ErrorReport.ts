/** Turns whatever stopped the command into one line an operator can act on: the setting, then the cause. */
import { ValidationError } from "@effect/cli"
import { Cause, ConfigError, Option, Predicate } from "effect"

const configLines = (error: ConfigError.ConfigError): ReadonlyArray<string> => {
  switch (error._op) {
    case "And":
      return [...configLines(error.left), ...configLines(error.right)]
    case "Or":
      // Both alternatives failed; the first says what was expected of the setting.
      return configLines(error.left)
    case "MissingData":
      return [`${error.path.join(".")} is not set`]
    case "InvalidData":
    case "SourceUnavailable":
    case "Unsupported":
      // A check across several settings has no single path: its message names them.
      return [error.path.length === 0 ? error.message : `${error.path.join(".")}: ${error.message}`]
  }
}

const messageOf = (error: unknown): string => {
  if (ConfigError.isConfigError(error)) return `Bad configuration: ${[...new Set(configLines(error))].join("; ")}`
  if (ValidationError.isValidationError(error)) return "" // @effect/cli has already printed usage and the problem
  if (Predicate.hasProperty(error, "message") && typeof error.message === "string" && error.message !== "") {
    return error.message
  }
  if (Predicate.hasProperty(error, "_tag") && typeof error._tag === "string") return error._tag
  return String(error)
}

/** One line describing why the command failed, or `None` when it was interrupted (SIGINT/SIGTERM) or already reported. */
export const describe = (cause: Cause.Cause<unknown>): Option.Option<string> => {
  if (Cause.isInterruptedOnly(cause)) return Option.none()
  const failure = Cause.failureOption(cause)
  const message = Option.isSome(failure)
    ? messageOf(failure.value)
    : Option.match(Cause.dieOption(cause), {
        onNone: () => "stopped by an unexpected failure",
        onSome: (defect) => `internal error: ${messageOf(defect)}`
      })
  return message === "" ? Option.none() : Option.some(message)
}
