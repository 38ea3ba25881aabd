/** JSON codecs over Schemas whose failures become `CacheError`s naming the operation and key. */
import { Effect, Either, type ParseResult, Schema } from "effect"
import type { Redis } from "ioredis"
import { CacheError } from "../CacheError.js"
import type { Connection } from "../RedisClient.js"

interface Codec {
  readonly encode: (value: unknown) => Effect.Effect<string, ParseResult.ParseError>
  readonly decode: (text: unknown) => Effect.Effect<unknown, ParseResult.ParseError>
  /** The encoded (JSON-ready) value, synchronously: no fiber step per value. */
  readonly toEncoded: (value: unknown) => Either.Either<unknown, ParseResult.ParseError>
  /** `JSON.parse` then decode, synchronously. */
  readonly decodeSync: (text: string) => Either.Either<unknown, ParseResult.ParseError>
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
      decode: Schema.decodeUnknown(json),
      toEncoded: Schema.encodeEither(schema) as Codec["toEncoded"],
      decodeSync: Schema.decodeUnknownEither(json)
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

/** Encodes one value to JSON, or gives the `CacheError` (reason `Encode`) naming `op` and `key`. */
export type JsonEncoder<A> = (value: A, op: string, key: string) => Either.Either<string, CacheError>

/**
 * `encodeJson` without the Effect: a plain function over the schema's precompiled encoder, producing the same
 * JSON. For batches, where running an Effect per value costs more than the encoding (see `bench/batch.ts`).
 */
export const jsonEncoder = <A, I>(schema: Schema.Schema<A, I>): JsonEncoder<A> => {
  const { toEncoded } = codecOf(schema)
  return (value, op, key) => {
    const encoded = toEncoded(value)
    if (Either.isLeft(encoded)) return Either.left(new CacheError({ reason: "Encode", op, key, cause: encoded.left }))
    try {
      return Either.right(JSON.stringify(encoded.right))
    } catch (cause) {
      return Either.left(new CacheError({ reason: "Encode", op, key, cause }))
    }
  }
}

/** `decodeJson` without the Effect, for batches. */
export const decodeJsonSync = <A, I>(
  schema: Schema.Schema<A, I>,
  text: string,
  op: string,
  key: string
): Either.Either<A, CacheError> =>
  Either.mapLeft(
    codecOf(schema).decodeSync(text) as Either.Either<A, ParseResult.ParseError>,
    (cause) => new CacheError({ reason: "Decode", op, key, cause })
  )

/**
 * Encode every item with `encode` under the key `keyOf` gives it, keeping the last JSON per key (a later item
 * wins), in first-seen key order. Fails on the first item that does not encode, so a batch is all or nothing.
 */
export const encodeByKey = <T, A>(
  items: Iterable<T>,
  keyOf: (item: T) => string,
  valueFrom: (item: T) => A,
  encode: JsonEncoder<A>,
  op: string
): Effect.Effect<Map<string, string>, CacheError> =>
  Effect.suspend(() => {
    const values = new Map<string, string>()
    for (const item of items) {
      const key = keyOf(item)
      const json = encode(valueFrom(item), op, key)
      if (Either.isLeft(json)) return Effect.fail(json.left)
      values.set(key, json.right)
    }
    return Effect.succeed(values)
  })

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
