/**
 * Indicator state per series (`indicator:{exchangeId}:{symbol}:{timeframe}:macdv`, domain.md §4): values,
 * stage, validity metadata and whatever the indicator needs to resume incrementally. The state's Schema belongs
 * to the indicators package, so every call takes it from the caller.
 */
import { Context, Effect, Either, Layer, Option, type Schema } from "effect"
import type { CacheError } from "./CacheError.js"
import { command, decodeJson, decodeJsonSync, encodeByKey, encodeJson, jsonEncoder } from "./internal/codec.js"
import * as Pipeline from "./internal/pipeline.js"
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
    /**
     * The saved states of many series in one round trip, in the order asked (a series asked twice is answered
     * twice). One GET per key, never MGET: keys of different series may live in different hash slots. Unlike
     * `get`, a stored value that does not decode with `schema` is `Option.none()` (logged as a warning naming
     * its key), as if nothing were saved: the caller recomputes that state from candles. Empty input costs nothing.
     */
    readonly getMany: <A, I>(
      series: ReadonlyArray<Keys.SeriesKey>,
      schema: Schema.Schema<A, I>
    ) => Effect.Effect<ReadonlyArray<Option.Option<A>>, CacheError>
    /**
     * `set` for many series in one round trip; a later entry for the same series wins. Every value is encoded
     * first, so one that does not encode fails the batch (`Encode`) before anything is written. Empty input
     * costs nothing.
     */
    readonly setMany: <A, I>(
      schema: Schema.Schema<A, I>,
      entries: ReadonlyArray<readonly [Keys.SeriesKey, A]>
    ) => Effect.Effect<void, CacheError>
    /** Forget the saved state (a cache clear, a reset after a gap). */
    readonly remove: (series: Keys.SeriesKey) => Effect.Effect<void, CacheError>
  }
>() {}

/**
 * Decode the stored JSON of each key (anything else is nothing stored); a value that does not decode becomes
 * none, with a warning.
 */
const decodeEach = <A, I>(
  schema: Schema.Schema<A, I>,
  keys: ReadonlyArray<string>,
  stored: ReadonlyArray<unknown>
): Effect.Effect<ReadonlyArray<Option.Option<A>>> =>
  Effect.suspend(() => {
    const results = new Array<Option.Option<A>>(keys.length)
    const rejected: Array<CacheError> = []
    for (let i = 0; i < keys.length; i++) {
      const json = stored[i]
      if (typeof json !== "string") {
        results[i] = Option.none()
        continue
      }
      const decoded = decodeJsonSync(schema, json, "IndicatorStore.getMany", keys[i]!)
      if (Either.isRight(decoded)) {
        results[i] = Option.some(decoded.right)
      } else {
        results[i] = Option.none()
        rejected.push(decoded.left)
      }
    }
    if (rejected.length === 0) return Effect.succeed(results)
    return Effect.as(
      Effect.forEach(
        rejected,
        (error) =>
          Effect.logWarning(`Ignored the undecodable indicator state at ${error.key}; it will be recomputed`).pipe(
            Effect.annotateLogs({ key: error.key, error: error.message })
          ),
        { discard: true }
      ),
      results
    )
  })

const encodeEntries = <A, I>(
  schema: Schema.Schema<A, I>,
  entries: ReadonlyArray<readonly [Keys.SeriesKey, A]>,
  keyOf: (series: Keys.SeriesKey) => string
) =>
  encodeByKey(
    entries,
    ([series]) => keyOf(series),
    ([, value]) => value,
    jsonEncoder(schema),
    "IndicatorStore.setMany"
  )

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
      getMany: Effect.fn("IndicatorStore.getMany")(function* <A, I>(
        series: ReadonlyArray<Keys.SeriesKey>,
        schema: Schema.Schema<A, I>
      ) {
        const keys = series.map(keyOf)
        const stored = yield* Pipeline.exec(redis, "IndicatorStore.getMany", keys, (pipeline) => {
          for (const key of keys) pipeline.get(key)
        })
        return yield* decodeEach(schema, keys, stored)
      }),
      setMany: Effect.fn("IndicatorStore.setMany")(function* <A, I>(
        schema: Schema.Schema<A, I>,
        entries: ReadonlyArray<readonly [Keys.SeriesKey, A]>
      ) {
        const values = yield* encodeEntries(schema, entries, keyOf)
        yield* Pipeline.exec(redis, "IndicatorStore.setMany", [...values.keys()], (pipeline) => {
          for (const [key, json] of values) pipeline.set(key, json)
        })
      }),
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
    getMany: Effect.fn("IndicatorStore.getMany")(function* <A, I>(
      series: ReadonlyArray<Keys.SeriesKey>,
      schema: Schema.Schema<A, I>
    ) {
      const keys = series.map((s) => Keys.indicator(s))
      return yield* decodeEach(
        schema,
        keys,
        keys.map((key) => values.get(key))
      )
    }),
    setMany: Effect.fn("IndicatorStore.setMany")(function* <A, I>(
      schema: Schema.Schema<A, I>,
      entries: ReadonlyArray<readonly [Keys.SeriesKey, A]>
    ) {
      const encoded = yield* encodeEntries(schema, entries, (s) => Keys.indicator(s))
      for (const [key, json] of encoded) values.set(key, json)
    }),
    remove: Effect.fn("IndicatorStore.remove")((series) =>
      Effect.sync(() => {
        values.delete(Keys.indicator(series))
      })
    )
  })
})
