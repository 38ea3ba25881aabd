/**
 * Validation of the public API's parameters and its opaque cursors. Every failure is a `BadRequest` whose
 * message names the parameter, what it accepts and (shortened) what was sent.
 */
import type { HttpServerRequest } from "@effect/platform"
import { Timeframe } from "@livermore/domain"
import { Effect, Schema } from "effect"
import { BadRequest } from "./PublicErrors.js"

/** What was sent, quoted and cut short, for messages. */
const shown = (value: string): string => JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)

const bad = (message: string) => Effect.fail(new BadRequest({ message }))

/** `limit`: an integer in [1, max]; absent → `fallback`. */
export const limit = (value: string | undefined, max: number, fallback: number): Effect.Effect<number, BadRequest> => {
  if (value === undefined) return Effect.succeed(fallback)
  const n = /^\d{1,7}$/.test(value) ? Number(value) : Number.NaN
  return Number.isInteger(n) && n >= 1 && n <= max
    ? Effect.succeed(n)
    : bad(`limit must be an integer from 1 to ${max}, got ${shown(value)}`)
}

export const timeframe = (value: string, name = "timeframe"): Effect.Effect<Timeframe.Timeframe, BadRequest> =>
  (Timeframe.all as ReadonlyArray<string>).includes(value)
    ? Effect.succeed(value as Timeframe.Timeframe)
    : bad(`${name} must be one of ${Timeframe.all.join(", ")}, got ${shown(value)}`)

export const optionalTimeframe = (value: string | undefined) =>
  value === undefined ? Effect.succeed(undefined) : timeframe(value)

const isoInstant = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/

/** An ISO-8601 date or date-time (UTC unless an offset is given) → ms since the epoch. */
export const instant = (value: string | undefined, name: string): Effect.Effect<number | undefined, BadRequest> => {
  if (value === undefined) return Effect.succeed(undefined)
  const withZone = /T/.test(value) && !/(Z|[+-]\d{2}:?\d{2})$/.test(value) ? `${value}Z` : value
  const ms = isoInstant.test(value) ? Date.parse(withZone) : Number.NaN
  return Number.isFinite(ms) && ms >= 0
    ? Effect.succeed(ms)
    : bad(`${name} must be an ISO-8601 time such as 2026-11-21T00:00:00Z, got ${shown(value)}`)
}

/** `from` ≤ `to` when both are given. */
export const range = (value: { readonly from?: string | undefined; readonly to?: string | undefined }) =>
  Effect.gen(function* () {
    const from = yield* instant(value.from, "from")
    const to = yield* instant(value.to, "to")
    if (from !== undefined && to !== undefined && from > to) {
      return yield* bad(`from (${value.from}) must not be later than to (${value.to})`)
    }
    return { from, to }
  })

/** One of `allowed`, for enumerated filters. */
export const oneOf = <const A extends string>(
  value: string | undefined,
  name: string,
  allowed: ReadonlyArray<A>
): Effect.Effect<A | undefined, BadRequest> =>
  value === undefined
    ? Effect.succeed(undefined)
    : (allowed as ReadonlyArray<string>).includes(value)
      ? Effect.succeed(value as A)
      : bad(`${name} must be one of ${allowed.join(", ")}, got ${shown(value)}`)

/** Path segments naming a symbol or an exchange: printable, short, no separators. */
export const name = (value: string, what: string): Effect.Effect<string, BadRequest> =>
  /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(value)
    ? Effect.succeed(value)
    : bad(`${what} must be 1 to 64 letters, digits, '.', '_' or '-', got ${shown(value)}`)

/**
 * Cursors: base64url JSON `{ k, q, p }` — the endpoint kind, a fingerprint of the query the page belongs to and
 * the position. A cursor from another endpoint or another query is refused instead of giving a wrong page.
 */
const CursorBody = Schema.Struct({ k: Schema.String, q: Schema.String, p: Schema.Union(Schema.Number, Schema.String) })

export const encodeCursor = (kind: string, query: string, position: number | string): string =>
  Buffer.from(JSON.stringify({ k: kind, q: query, p: position }), "utf8").toString("base64url")

export const decodeCursor = <P extends "number" | "string">(
  value: string | undefined,
  kind: string,
  query: string,
  position: P
): Effect.Effect<(P extends "number" ? number : string) | undefined, BadRequest> =>
  Effect.gen(function* () {
    if (value === undefined) return undefined
    const invalid = new BadRequest({
      message: `cursor is not a cursor of this query: pass meta.cursor from the previous page unchanged, with the same other parameters (got ${shown(value)})`
    })
    if (!/^[A-Za-z0-9_-]{1,512}$/.test(value)) return yield* invalid
    const parsed = yield* Effect.try({
      try: () => JSON.parse(Buffer.from(value, "base64url").toString("utf8")) as unknown,
      catch: () => invalid
    })
    const body = yield* Schema.decodeUnknown(CursorBody)(parsed).pipe(Effect.mapError(() => invalid))
    if (body.k !== kind || body.q !== query || typeof body.p !== position) return yield* invalid
    if (typeof body.p === "number" && !(Number.isSafeInteger(body.p) && body.p >= 0)) return yield* invalid
    return body.p as P extends "number" ? number : string
  })

/** Only the query parameters an endpoint accepts: a misspelt one (`limt=5`) is refused, not silently ignored. */
export const onlyKnown = (
  request: HttpServerRequest.HttpServerRequest,
  accepted: ReadonlyArray<string>
): Effect.Effect<void, BadRequest> => {
  const query = request.url.indexOf("?")
  const names = query === -1 ? [] : [...new URLSearchParams(request.url.slice(query + 1)).keys()]
  const unknown = names.find((name) => !accepted.includes(name))
  return unknown === undefined
    ? Effect.void
    : bad(
        `unknown query parameter ${shown(unknown)}; this endpoint accepts ${accepted.length === 0 ? "none" : accepted.join(", ")}`
      )
}
