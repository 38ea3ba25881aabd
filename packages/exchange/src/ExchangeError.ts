/** The typed errors an exchange adapter can fail with. Each names the exchange so a log line is enough to act. */
import { Data, Duration } from "effect"

/** A frame or response did not match the exchange's documented format. Adapters count and skip bad frames. */
export class DecodeError extends Data.TaggedError("DecodeError")<{
  readonly exchange: string
  /** What was being decoded, e.g. `kline event`, `GET /api/v3/klines`. */
  readonly what: string
  /** The start of the offending input (at most a few hundred characters). */
  readonly excerpt: string
  readonly cause: unknown
}> {
  override get message(): string {
    return `${this.exchange}: cannot decode ${this.what}: ${String(this.cause)} (input: ${this.excerpt})`
  }
}

/** The connection is down and could not be restored within the retry policy. */
export class Disconnected extends Data.TaggedError("Disconnected")<{
  readonly exchange: string
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `${this.exchange}: disconnected: ${this.reason}`
  }
}

/** The exchange answered 429 (or its equivalent); retry after `retryAfter`. */
export class RateLimited extends Data.TaggedError("RateLimited")<{
  readonly exchange: string
  readonly retryAfter: Duration.Duration
}> {
  override get message(): string {
    return `${this.exchange}: rate limited; retry after ${Duration.format(this.retryAfter)}`
  }
}

/** The exchange banned this client (Binance 418); no request may be sent before `until` (ms since epoch). */
export class Banned extends Data.TaggedError("Banned")<{
  readonly exchange: string
  readonly until: number
}> {
  override get message(): string {
    return `${this.exchange}: banned by the exchange until ${new Date(this.until).toISOString()}; no requests until then`
  }
}

/** Credentials are missing, malformed or refused. Never carries the secret itself. */
export class AuthError extends Data.TaggedError("AuthError")<{
  readonly exchange: string
  readonly reason: string
}> {
  override get message(): string {
    return `${this.exchange}: authentication failed: ${this.reason}`
  }
}

/** A request failed for another reason: transport error, or an HTTP status the adapter does not handle. */
export class RequestFailed extends Data.TaggedError("RequestFailed")<{
  readonly exchange: string
  /** `GET /api/v3/klines`, without the query (it may be signed). */
  readonly request: string
  readonly status?: number
  readonly cause?: unknown
}> {
  override get message(): string {
    const status = this.status === undefined ? "" : ` (HTTP ${this.status})`
    return `${this.exchange}: ${this.request} failed${status}${this.cause === undefined ? "" : `: ${String(this.cause)}`}`
  }
}

/** A symbol the exchange does not list (checked against its product list). */
export class UnknownSymbol extends Data.TaggedError("UnknownSymbol")<{
  readonly exchange: string
  readonly symbol: string
}> {
  override get message(): string {
    return `${this.exchange} lists no symbol "${this.symbol}"`
  }
}

/** Anything an adapter can fail with. */
export type ExchangeError = DecodeError | Disconnected | RateLimited | Banned | AuthError | RequestFailed | UnknownSymbol
