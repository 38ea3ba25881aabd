/**
 * Indicator state per series (`indicator:{exchangeId}:{symbol}:{timeframe}:macdv`, domain.md §4): values,
 * stage, validity metadata and whatever the indicator needs to resume incrementally. The state's Schema belongs
 * to the indicators package, so every call takes it from the caller.
 */
import { Context, Effect, Layer, type Option, type Schema } from "effect"
import type { CacheError } from "./CacheError.js"
import { command, decodeJson, encodeJson } from "./internal/codec.js"
import * as Keys from "./Keys.js"
import { RedisClient } from "./RedisClient.js"

/** Saved indicator states. */
export class IndicatorStore extends Context.Tag("@livermore/cache/IndicatorStore")<
  IndicatorStore,
  {
    /** The saved state of the series, decoded with `schema`; a stored value that does not fit is a `Decode` error. */
    readonly get: <A, I>(series: Keys.SeriesKey, schema: Schema.Schema<A, I>) => Effect.Effect<Option.Option<A>, CacheError>
    /** Replace the saved state of the series. */
    readonly set: <A, I>(series: Keys.SeriesKey, schema: Schema.Schema<A, I>, value: A) => Effect.Effect<void, CacheError>
    /** Forget the saved state (a cache clear, a reset after a gap). */
    readonly remove: (series: Keys.SeriesKey) => Effect.Effect<void, CacheError>
  }
>() {}

/** States as JSON strings in Redis. */
export const layerRedis: Layer.Layer<IndicatorStore, never, RedisClient> = Layer.effect(
  IndicatorStore,
  Effect.gen(function* () {
    const redis = yield* RedisClient
    const keyOf = (series: Keys.SeriesKey) => redis.key(Keys.indicator(series))
    return IndicatorStore.of({
      get: <A, I>(series: Keys.SeriesKey, schema: Schema.Schema<A, I>) => {
        const key = keyOf(series)
        return command(redis, "IndicatorStore.get", key, (r) => r.get(key)).pipe(
          Effect.flatMap((json) =>
            json === null ? Effect.succeedNone : Effect.asSome(decodeJson(schema, json, "IndicatorStore.get", key))
          ),
          Effect.withSpan("IndicatorStore.get")
        )
      },
      set: <A, I>(series: Keys.SeriesKey, schema: Schema.Schema<A, I>, value: A) => {
        const key = keyOf(series)
        return encodeJson(schema, value, "IndicatorStore.set", key).pipe(
          Effect.flatMap((json) =>
            command(redis, "IndicatorStore.set", key, (r) => r.set(key, json))
          ),
          Effect.asVoid,
          Effect.withSpan("IndicatorStore.set")
        )
      },
      remove: Effect.fn("IndicatorStore.remove")(function* (series) {
        const key = keyOf(series)
        yield* command(redis, "IndicatorStore.remove", key, (r) => r.del(key))
      })
    })
  })
)

/** States in process memory (encoded JSON, decoded on read, like Redis). */
export const layerMemory: Layer.Layer<IndicatorStore> = Layer.sync(IndicatorStore, () => {
  const values = new Map<string, string>()
  return IndicatorStore.of({
    get: <A, I>(series: Keys.SeriesKey, schema: Schema.Schema<A, I>) =>
      Effect.suspend(() => {
        const key = Keys.indicator(series)
        const json = values.get(key)
        return json === undefined ? Effect.succeedNone : Effect.asSome(decodeJson(schema, json, "IndicatorStore.get", key))
      }).pipe(Effect.withSpan("IndicatorStore.get")),
    set: <A, I>(series: Keys.SeriesKey, schema: Schema.Schema<A, I>, value: A) => {
      const key = Keys.indicator(series)
      return encodeJson(schema, value, "IndicatorStore.set", key).pipe(
        Effect.flatMap((json) =>
          Effect.sync(() => {
            values.set(key, json)
          })
        ),
        Effect.withSpan("IndicatorStore.set")
      )
    },
    remove: Effect.fn("IndicatorStore.remove")((series) =>
      Effect.sync(() => {
        values.delete(Keys.indicator(series))
      })
    )
  })
})
