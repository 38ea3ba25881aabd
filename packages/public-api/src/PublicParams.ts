/**
 * Validation of the public API's parameters and its opaque cursors. Every failure is a `BadRequest` whose
 * message names the parameter, what it accepts and (shortened) what was sent.
 *
 * Each check is a synchronous `Either` (which a handler can still `yield*`): on the hot candles path they compose
 * without a runtime step each.
 */
import type { HttpServerRequest } from "@effect/platform"
import { Timeframe } from "@livermore/domain"
import { Either, Schema } from "effect"
import { BadRequest } from "./PublicErrors.js"

/** What was sent, quoted and cut short, for messages. */
const shown = (value: string): string => JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)

const bad = (message: string) => Either.left(new BadRequest({ message }))

/** `limit`: an integer in [1, max]; absent → `fallback`. */
export const limit = (value: string | undefined, max: number, fallback: number): Either.Either<number, BadRequest> => {
  if (value === undefined) return Either.right(fallback)
  const n = /^\d{1,7}$/.test(value) ? Number(value) : Number.NaN
  return Number.isInteger(n) && n >= 1 && n <= max
    ? Either.right(n)
    : bad(`limit must be an integer from 1 to ${max}, got ${shown(value)}`)
}

export const timeframe = (value: string, name = "timeframe"): Either.Either<Timeframe.Timeframe, BadRequest> =>
  (Timeframe.all as ReadonlyArray<string>).includes(value)
    ? Either.right(value as Timeframe.Timeframe)
    : bad(`${name} must be one of ${Timeframe.all.join(", ")}, got ${shown(value)}`)

export const optionalTimeframe = (value: string | undefined) =>
  value === undefined ? Either.right(undefined) : timeframe(value)

const isoInstant = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/

/** An ISO-8601 date or date-time (UTC unless an offset is given) → ms since the epoch. */
export const instant = (value: string | undefined, name: string): Either.Either<number | undefined, BadRequest> => {
  if (value === undefined) return Either.right(undefined)
  const withZone = /T/.test(value) && !/(Z|[+-]\d{2}:?\d{2})$/.test(value) ? `${value}Z` : value
  const ms = isoInstant.test(value) ? Date.parse(withZone) : Number.NaN
  return Number.isFinite(ms) && ms >= 0
    ? Either.right(ms)
    : bad(`${name} must be an ISO-8601 time such as 2026-11-21T00:00:00Z, got ${shown(value)}`)
}

/** `from` ≤ `to` when both are given. */
export const range = (value: {
  readonly from?: string | undefined
  readonly to?: string | undefined
}): Either.Either<{ readonly from: number | undefined; readonly to: number | undefined }, BadRequest> =>
  Either.flatMap(Either.all([instant(value.from, "from"), instant(value.to, "to")]), ([from, to]) =>
    from !== undefined && to !== undefined && from > to
      ? bad(`from (${value.from}) must not be later than to (${value.to})`)
      : Either.right({ from, to })
  )

/** One of `allowed`, for enumerated filters. */
export const oneOf = <const A extends string>(
  value: string | undefined,
  name: string,
  allowed: ReadonlyArray<A>
): Either.Either<A | undefined, BadRequest> =>
  value === undefined
    ? Either.right(undefined)
    : (allowed as ReadonlyArray<string>).includes(value)
      ? Either.right(value as A)
      : bad(`${name} must be one of ${allowed.join(", ")}, got ${shown(value)}`)

/** Path segments naming a symbol or an exchange: printable, short, no separators. */
export const name = (value: string, what: string): Either.Either<string, BadRequest> =>
  /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(value)
    ? Either.right(value)
    : bad(`${what} must be 1 to 64 letters, digits, '.', '_' or '-', got ${shown(value)}`)

/**
 * Cursors: base64url JSON `{ k, q, p }` — the endpoint kind, a fingerprint of the query the page belongs to and
 * the position. A cursor from another endpoint or another query is refused instead of giving a wrong page.
 */
const CursorBody = Schema.Struct({ k: Schema.String, q: Schema.String, p: Schema.Union(Schema.Number, Schema.String) })

export const encodeCursor = (kind: string, query: string, position: number | string): string =>
  Buffer.from(JSON.stringify({ k: kind, q: query, p: position }), "utf8").toString("base64url")

const decodeCursorBody = Schema.decodeUnknownEither(CursorBody)

export const decodeCursor = <P extends "number" | "string">(
  value: string | undefined,
  kind: string,
  query: string,
  position: P
): Either.Either<(P extends "number" ? number : string) | undefined, BadRequest> => {
  if (value === undefined) return Either.right(undefined)
  const invalid = Either.left(
    new BadRequest({
      message: `cursor is not a cursor of this query: pass meta.cursor from the previous page unchanged, with the same other parameters (got ${shown(value)})`
    })
  )
  if (!/^[A-Za-z0-9_-]{1,512}$/.test(value)) return invalid
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(value, "base64url").toString("utf8"))
  } catch {
    return invalid
  }
  const body = decodeCursorBody(parsed)
  if (Either.isLeft(body)) return invalid
  const { k, q, p } = body.right
  if (k !== kind || q !== query || typeof p !== position) return invalid
  if (typeof p === "number" && !(Number.isSafeInteger(p) && p >= 0)) return invalid
  return Either.right(p as P extends "number" ? number : string)
}

/** Only the query parameters an endpoint accepts: a misspelt one (`limt=5`) is refused, not silently ignored. */
export const onlyKnown = (
  request: HttpServerRequest.HttpServerRequest,
  accepted: ReadonlyArray<string>
): Either.Either<void, BadRequest> => {
  const query = request.url.indexOf("?")
  const names = query === -1 ? [] : [...new URLSearchParams(request.url.slice(query + 1)).keys()]
  const unknown = names.find((name) => !accepted.includes(name))
  return unknown === undefined
    ? Either.void
    : bad(
        `unknown query parameter ${shown(unknown)}; this endpoint accepts ${accepted.length === 0 ? "none" : accepted.join(", ")}`
      )
}
