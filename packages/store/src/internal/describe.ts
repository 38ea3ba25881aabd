/** Human-readable one-liners for the causes the store wraps (driver errors, socket errors, parse errors). */
import { SqlError } from "@effect/sql/SqlError"
import { Predicate } from "effect"

const stringProp = (value: unknown, key: string): string | undefined =>
  Predicate.hasProperty(value, key) && typeof value[key] === "string" ? value[key] : undefined

/**
 * The most specific text a cause offers. Node socket errors become their errno code (`ECONNREFUSED`);
 * Node 20 wraps "connect to every address of localhost" failures in an AggregateError with the same code.
 * Database errors keep their message and SQLSTATE.
 */
export const describeCause = (cause: unknown): string => {
  if (cause instanceof SqlError) {
    const inner = describeCause(cause.cause)
    return inner === "" ? cause.message : inner
  }
  const code = stringProp(cause, "code")
  if (code !== undefined && /^E[A-Z0-9_]+$/.test(code)) return code
  const message = stringProp(cause, "message") ?? (cause === undefined ? "" : String(cause))
  if (message === "" && Predicate.hasProperty(cause, "errors") && Array.isArray(cause.errors)) {
    return cause.errors.map(describeCause).join(", ")
  }
  return code !== undefined && message !== "" ? `${message} [SQLSTATE ${code}]` : message
}

/** The SQLSTATE of a database error (e.g. `23505` unique violation), if the cause is one. */
export const sqlState = (cause: unknown): string | undefined => {
  const inner = cause instanceof SqlError ? cause.cause : cause
  const code = stringProp(inner, "code")
  return code !== undefined && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
}
