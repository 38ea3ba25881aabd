/**
 * Pub/sub across processes (ticker updates, closed candles, alerts, control): values are encoded with a
 * Schema on publish and decoded on receipt; subscriptions are Streams. Channel names come from `Keys`.
 */
import { Context, Effect, Exit, identity, Layer, Mailbox, Option, PubSub, type Schema, type Scope, Stream } from "effect"
import type { CacheError } from "./CacheError.js"
import { backend, command, decodeJson, encodeJson } from "./internal/codec.js"
import { RedisClient } from "./RedisClient.js"

/** Publish and subscribe on named channels. */
export class Bus extends Context.Tag("@livermore/cache/Bus")<
  Bus,
  {
    /** Publish `value` on `channel`. Subscribers that are not subscribed yet never see it (pub/sub, no history). */
    readonly publish: <A, I>(channel: string, schema: Schema.Schema<A, I>, value: A) => Effect.Effect<void, CacheError>
    /**
     * Subscribe to `channel`. The effect completes once the subscription is acknowledged, so anything published
     * after it returns is delivered; messages are buffered until the returned Stream is run. The subscription
     * (on Redis, a connection of its own) lasts as long as the scope. A message that does not decode with
     * `schema` is logged and skipped; the stream fails only when the connection is lost for good.
     */
    readonly subscribe: <A, I>(
      channel: string,
      schema: Schema.Schema<A, I>
    ) => Effect.Effect<Stream.Stream<A, CacheError>, CacheError, Scope.Scope>
  }
>() {}

/**
 * The messages of `channel` as a Stream that subscribes when it starts and unsubscribes when it ends.
 * Convenient for consumers that do not need to know when the subscription is in place.
 */
export const stream = <A, I>(channel: string, schema: Schema.Schema<A, I>): Stream.Stream<A, CacheError, Bus> =>
  Stream.unwrapScoped(Effect.flatMap(Bus, (bus) => bus.subscribe(channel, schema)))

/** Decode each raw message, logging and dropping the ones that do not fit `schema`. */
const decodeOrSkip =
  <A, I>(schema: Schema.Schema<A, I>, channel: string) =>
  <E>(messages: Stream.Stream<string, E>): Stream.Stream<A, E> =>
    messages.pipe(
      Stream.mapEffect((message) =>
        decodeJson(schema, message, "Bus.subscribe", channel).pipe(
          Effect.asSome,
          Effect.catchAll((error) =>
            Effect.logWarning("Skipped a malformed message").pipe(
              Effect.annotateLogs({ channel, error: error.message }),
              Effect.as(Option.none<A>())
            )
          )
        )
      ),
      Stream.filterMap(identity)
    )

/** Redis pub/sub: PUBLISH on the shared connection, one dedicated connection per subscription. */
export const layerRedis: Layer.Layer<Bus, never, RedisClient> = Layer.effect(
  Bus,
  Effect.gen(function* () {
    const redis = yield* RedisClient
    return Bus.of({
      publish: <A, I>(channel: string, schema: Schema.Schema<A, I>, value: A) => {
        const physical = redis.key(channel)
        return encodeJson(schema, value, "Bus.publish", physical).pipe(
          Effect.flatMap((json) =>
            command(redis, "Bus.publish", physical, (r) => r.publish(physical, json))
          ),
          Effect.asVoid,
          Effect.withSpan("Bus.publish", { attributes: { channel } })
        )
      },
      subscribe: <A, I>(channel: string, schema: Schema.Schema<A, I>) =>
        Effect.gen(function* () {
          const physical = redis.key(channel)
          const connection = yield* redis.dedicated.pipe(Effect.mapError(backend("Bus.subscribe", physical)))
          const mailbox = yield* Mailbox.make<string, CacheError>()
          const onMessage = (from: string, message: string) => {
            if (from === physical) mailbox.unsafeOffer(message)
          }
          const onEnd = () => {
            mailbox.unsafeDone(Exit.fail(backend("Bus.subscribe", physical)("the subscriber connection closed")))
          }
          // Registered after the connection, so released before it: the stream ends cleanly instead of
          // seeing the deliberate disconnect as a lost connection.
          yield* Effect.acquireRelease(
            Effect.sync(() => {
              connection.redis.on("message", onMessage)
              connection.redis.on("end", onEnd)
            }),
            () =>
              Effect.sync(() => {
                connection.redis.off("message", onMessage)
                connection.redis.off("end", onEnd)
                mailbox.unsafeDone(Exit.void)
              })
          )
          yield* command(connection, "Bus.subscribe", physical, (r) => r.subscribe(physical))
          return Mailbox.toStream(mailbox).pipe(decodeOrSkip(schema, physical))
        }).pipe(Effect.withSpan("Bus.subscribe", { attributes: { channel } }))
    })
  })
)

/** In-process pub/sub: an Effect `PubSub` per channel carrying encoded JSON, so decoding behaves as on Redis. */
export const layerMemory: Layer.Layer<Bus> = Layer.sync(Bus, () => {
  const hubs = new Map<string, PubSub.PubSub<string>>()
  const hub = (channel: string): Effect.Effect<PubSub.PubSub<string>> =>
    Effect.suspend(() => {
      const existing = hubs.get(channel)
      if (existing) return Effect.succeed(existing)
      return Effect.map(PubSub.unbounded<string>(), (created) => {
        const raced = hubs.get(channel)
        if (raced) return raced
        hubs.set(channel, created)
        return created
      })
    })
  return Bus.of({
    publish: <A, I>(channel: string, schema: Schema.Schema<A, I>, value: A) =>
      encodeJson(schema, value, "Bus.publish", channel).pipe(
        Effect.flatMap((json) => Effect.flatMap(hub(channel), (h) => PubSub.publish(h, json))),
        Effect.asVoid,
        Effect.withSpan("Bus.publish", { attributes: { channel } })
      ),
    subscribe: <A, I>(channel: string, schema: Schema.Schema<A, I>) =>
      hub(channel).pipe(
        Effect.flatMap(PubSub.subscribe),
        Effect.map((queue) => Stream.fromQueue(queue).pipe(decodeOrSkip(schema, channel))),
        Effect.withSpan("Bus.subscribe", { attributes: { channel } })
      )
  })
})
