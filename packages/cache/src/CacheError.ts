/** The one error family of the cache services, whatever their backing (Redis or memory). */
import { Data } from "effect"

/**
 * Why a cache operation failed:
 * - `Backend`: the store did not answer or refused the command (`cause` is a `RedisError`);
 * - `Decode`: a stored value or message does not match its schema (`cause` is a `ParseError`);
 * - `Encode`: the value to store does not match its schema;
 * - `Argument`: the caller passed something the operation cannot use (a malformed stream id, a negative count).
 */
export type Reason = "Backend" | "Decode" | "Encode" | "Argument"

/** A cache operation failed. `op` names the operation (`CandleCache.range`), `key` the Redis key or channel. */
export class CacheError extends Data.TaggedError("CacheError")<{
  readonly reason: Reason
  readonly op: string
  readonly key: string
  readonly cause: unknown
}> {
  override get message(): string {
    const detail = describe(this.cause)
    const what: Record<Reason, string> = {
      Backend: `${this.op} on ${this.key} failed`,
      Decode: `${this.op}: the value at ${this.key} does not decode`,
      Encode: `${this.op}: the value for ${this.key} does not encode`,
      Argument: `${this.op} on ${this.key}`
    }
    return `${what[this.reason]}: ${detail}`
  }
}

const describe = (cause: unknown): string =>
  cause instanceof Error ? cause.message : typeof cause === "string" ? cause : String(cause)
