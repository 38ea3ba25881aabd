/** Schema decoding that fails with the port's `DecodeError`, carrying a short excerpt of the input. */
import { ExchangeError } from "@livermore/exchange"
import { Either, type ParseResult, Schema } from "effect"

const EXCERPT = 300

/** The start of `input` as text, at most a few hundred characters (never a whole payload in a log line). */
export const excerpt = (input: unknown): string => {
  let text: string
  if (typeof input === "string") text = input
  else {
    try {
      text = JSON.stringify(input) ?? String(input)
    } catch {
      text = String(input)
    }
  }
  return text.length > EXCERPT ? `${text.slice(0, EXCERPT)}…` : text
}

/** A decoder from unknown input to `A` that reports a mismatch as `DecodeError { exchange, what }`. */
export const decoder = <A, I>(schema: Schema.Schema<A, I>, exchange: string, what: string) => {
  const decode = Schema.decodeUnknownEither(schema, { errors: "first" })
  return (input: unknown): Either.Either<A, ExchangeError.DecodeError> =>
    Either.mapLeft(
      decode(input),
      (cause: ParseResult.ParseError) => new ExchangeError.DecodeError({ exchange, what, excerpt: excerpt(input), cause })
    )
}

/** `JSON.parse` as an `Either`, failing with `DecodeError` on text that is not JSON. */
export const parseJson = (text: string, exchange: string, what: string): Either.Either<unknown, ExchangeError.DecodeError> =>
  Either.try({
    try: () => JSON.parse(text) as unknown,
    catch: (cause) => new ExchangeError.DecodeError({ exchange, what, excerpt: excerpt(text), cause })
  })
