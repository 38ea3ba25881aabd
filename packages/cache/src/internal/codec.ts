/** JSON codecs over Schemas whose failures become `CacheError`s naming the operation and key. */
import { Effect, type ParseResult, Schema } from "effect"
import type { Redis } from "ioredis"
import { CacheError } from "../CacheError.js"
import type { Connection } from "../RedisClient.js"

interface Codec {
  readonly encode: (value: unknown) => Effect.Effect<string, ParseResult.ParseError>
  readonly decode: (text: unknown) => Effect.Effect<unknown, ParseResult.ParseError>
}

/**
 * Compiled codecs per schema. Building `parseJson(schema)` and its parser costs ~60 µs, eight times the decode
 * itself, and a warm scan decodes every cached candle: compile once per schema, not once per value.
 */
const codecs = new WeakMap<object, Codec>()

const codecOf = <A, I>(schema: Schema.Schema<A, I>): Codec => {
  let codec = codecs.get(schema)
  if (codec === undefined) {
    const json = Schema.parseJson(schema)
    codec = {
      encode: Schema.encode(json) as Codec["encode"],
      decode: Schema.decodeUnknown(json)
    }
    codecs.set(schema, codec)
  }
  return codec
}

/** Encode `value` with `schema` and serialize it to JSON. */
export const encodeJson = <A, I>(
  schema: Schema.Schema<A, I>,
  value: A,
  op: string,
  key: string
): Effect.Effect<string, CacheError> =>
  codecOf(schema)
    .encode(value)
    .pipe(Effect.mapError((cause) => new CacheError({ reason: "Encode", op, key, cause })))

/** Parse JSON and decode it with `schema`. */
export const decodeJson = <A, I>(
  schema: Schema.Schema<A, I>,
  text: string,
  op: string,
  key: string
): Effect.Effect<A, CacheError> =>
  (codecOf(schema).decode(text) as Effect.Effect<A, ParseResult.ParseError>).pipe(
    Effect.mapError((cause) => new CacheError({ reason: "Decode", op, key, cause }))
  )

/** `CacheError` with reason `Backend`, for a failed Redis command. */
export const backend =
  (op: string, key: string) =>
  (cause: unknown): CacheError =>
    new CacheError({ reason: "Backend", op, key, cause })

/** `CacheError` with reason `Argument`. */
export const argument = (op: string, key: string, detail: string): CacheError =>
  new CacheError({ reason: "Argument", op, key, cause: detail })

/** Run a command on `connection`, a failure becoming a `CacheError` with reason `Backend`. */
export const command = <A>(
  connection: Connection,
  op: string,
  key: string,
  f: (redis: Redis) => Promise<A>
): Effect.Effect<A, CacheError> => connection.use(op, f).pipe(Effect.mapError(backend(op, key)))
