/**
 * Plain JSON string values under a Redis key, encoded and decoded with a Schema: what the warmup schedule and
 * stats keys (domain.md §4/§6) need, which no `@livermore/cache` service covers (those are keyed by series or
 * by exchange status). Keys are `Keys` names; the Redis layer puts `RedisClient.prefix` in front.
 */
import { CacheError, RedisClient } from "@livermore/cache"
import { Context, Effect, Layer, type Option, Schema } from "effect"

/** Get and set JSON values by key. */
export class JsonStore extends Context.Tag("@livermore/engine/JsonStore")<
  JsonStore,
  {
    /** The value at `key`, decoded with `schema`; a value that does not decode is a `CacheError` (`Decode`). */
    readonly get: <A, I>(key: string, schema: Schema.Schema<A, I>) => Effect.Effect<Option.Option<A>, CacheError.CacheError>
    /** Encode `value` with `schema` and store it at `key`, replacing what was there (no expiry). */
    readonly set: <A, I>(key: string, schema: Schema.Schema<A, I>, value: A) => Effect.Effect<void, CacheError.CacheError>
  }
>() {}

const encode = <A, I>(schema: Schema.Schema<A, I>, value: A, op: string, key: string) =>
  Schema.encode(Schema.parseJson(schema))(value).pipe(
    Effect.mapError((cause) => new CacheError.CacheError({ reason: "Encode", op, key, cause }))
  )

const decode = <A, I>(schema: Schema.Schema<A, I>, json: string, op: string, key: string) =>
  Schema.decodeUnknown(Schema.parseJson(schema))(json).pipe(
    Effect.mapError((cause) => new CacheError.CacheError({ reason: "Decode", op, key, cause }))
  )

/** Values as Redis strings (GET / SET). */
export const layerRedis: Layer.Layer<JsonStore, never, RedisClient.RedisClient> = Layer.effect(
  JsonStore,
  Effect.gen(function* () {
    const redis = yield* RedisClient.RedisClient
    const run = <A>(op: string, key: string, f: (r: RedisClient.Connection["redis"]) => Promise<A>) =>
      redis.use(op, f).pipe(Effect.mapError((cause) => new CacheError.CacheError({ reason: "Backend", op, key, cause })))
    return JsonStore.of({
      get: <A, I>(name: string, schema: Schema.Schema<A, I>) => {
        const key = redis.key(name)
        return run("JsonStore.get", key, (r) => r.get(key)).pipe(
          Effect.flatMap((json) =>
            json === null ? Effect.succeedNone : Effect.asSome(decode(schema, json, "JsonStore.get", key))
          ),
          Effect.withSpan("JsonStore.get", { attributes: { key: name } })
        )
      },
      set: <A, I>(name: string, schema: Schema.Schema<A, I>, value: A) => {
        const key = redis.key(name)
        return encode(schema, value, "JsonStore.set", key).pipe(
          Effect.flatMap((json) => run("JsonStore.set", key, (r) => r.set(key, json))),
          Effect.asVoid,
          Effect.withSpan("JsonStore.set", { attributes: { key: name } })
        )
      }
    })
  })
)

/** Values in process memory, stored encoded so decoding behaves as on Redis. */
export const layerMemory: Layer.Layer<JsonStore> = Layer.sync(JsonStore, () => {
  const values = new Map<string, string>()
  return JsonStore.of({
    get: <A, I>(key: string, schema: Schema.Schema<A, I>) =>
      Effect.suspend(() => {
        const json = values.get(key)
        return json === undefined ? Effect.succeedNone : Effect.asSome(decode(schema, json, "JsonStore.get", key))
      }),
    set: <A, I>(key: string, schema: Schema.Schema<A, I>, value: A) =>
      encode(schema, value, "JsonStore.set", key).pipe(
        Effect.flatMap((json) =>
          Effect.sync(() => {
            values.set(key, json)
          })
        )
      )
  })
})
