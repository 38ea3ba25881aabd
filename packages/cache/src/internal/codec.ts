/** JSON codecs over Schemas whose failures become `CacheError`s naming the operation and key. */
import { Effect, Schema } from "effect"
import type { Redis } from "ioredis"
import { CacheError } from "../CacheError.js"
import type { Connection } from "../RedisClient.js"

/** Encode `value` with `schema` and serialize it to JSON. */
export const encodeJson = <A, I>(
  schema: Schema.Schema<A, I>,
  value: A,
  op: string,
  key: string
): Effect.Effect<string, CacheError> =>
  Schema.encode(Schema.parseJson(schema))(value).pipe(
    Effect.mapError((cause) => new CacheError({ reason: "Encode", op, key, cause }))
  )

/** Parse JSON and decode it with `schema`. */
export const decodeJson = <A, I>(
  schema: Schema.Schema<A, I>,
  text: string,
  op: string,
  key: string
): Effect.Effect<A, CacheError> =>
  Schema.decodeUnknown(Schema.parseJson(schema))(text).pipe(
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
