/** Errors every repository can fail with: a failed query, or a missing record. */
import type { SqlError } from "@effect/sql/SqlError"
import { Data, Effect, ParseResult, Predicate, Schema } from "effect"
import { describeCause, sqlState } from "./internal/describe.js"

/**
 * A repository call failed: the database rejected or could not run a statement (`SqlError`, constraint
 * violations included), or a row or an argument did not match its schema (`ParseError`).
 */
export class StoreError extends Data.TaggedError("StoreError")<{
  /** The repository operation, e.g. `AlertsRepo.insertOnce`. */
  readonly op: string
  readonly cause: SqlError | ParseResult.ParseError
}> {
  override get message(): string {
    return `${this.op}: ${
      ParseResult.isParseError(this.cause) ? this.cause.message : describeCause(this.cause)
    }`
  }

  /** The SQLSTATE when the database rejected the statement (`23505` unique, `23514` check, `23503` foreign key). */
  get sqlState(): string | undefined {
    return ParseResult.isParseError(this.cause) ? undefined : sqlState(this.cause)
  }
}

/** No row matches the key; for exchanges the domain's `UnknownExchange` is used instead. */
export class RecordNotFound extends Schema.TaggedError<RecordNotFound>()("RecordNotFound", {
  /** What was looked up, e.g. `user` or `api key`. */
  entity: Schema.String,
  /** The key that matched nothing, e.g. `id 42`. */
  key: Schema.String
}) {
  override get message(): string {
    return `No ${this.entity} with ${this.key}`
  }
}

const isSqlOrParseError = (error: unknown): error is SqlError | ParseResult.ParseError =>
  ParseResult.isParseError(error) || (Predicate.isTagged(error, "SqlError") && error instanceof Error)

/**
 * Wrap the driver's and the schemas' failures of `op` in a `StoreError`, leaving domain errors as they are.
 * Used as the pipeable of each repository method's `Effect.fn`.
 */
export const wrap =
  (op: string) =>
  <A, E, R>(self: Effect.Effect<A, E, R>) =>
    Effect.catchIf(
      self,
      (error): error is Extract<E, SqlError | ParseResult.ParseError> => isSqlOrParseError(error),
      (cause) => Effect.fail(new StoreError({ op, cause }))
    )
