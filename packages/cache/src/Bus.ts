/**
 * Pub/sub across processes (ticker updates, closed candles, alerts, control): values are encoded with a
 * Schema on publish and decoded on receipt; subscriptions are Streams. Channel names come from `Keys`.
 */
import {
  Clock,
  Context,
  Duration,
  Effect,
  Either,
  Exit,
  identity,
  Layer,
  Mailbox,
  Option,
  PubSub,
  type Schema,
  type Scope,
  Stream
} from "effect"
import type { CacheError } from "./CacheError.js"
import { argument, backend, command, decodeJson, encodeJson, jsonEncoder } from "./internal/codec.js"
import * as Pipeline from "./internal/pipeline.js"
import * as Script from "./internal/script.js"
import * as Keys from "./Keys.js"
import { RedisClient } from "./RedisClient.js"

/** The claim of `publishOnce`: a key (a `Keys` name, such as `Keys.alertOnce`) held for `ttl`. */
export interface Once {
  readonly key: string
  readonly ttl: Duration.DurationInput
}

/** Publish and subscribe on named channels. */
export class Bus extends Context.Tag("@livermore/cache/Bus")<
  Bus,
  {
    /** Publish `value` on `channel`. Subscribers that are not subscribed yet never see it (pub/sub, no history). */
    readonly publish: <A, I>(channel: string, schema: Schema.Schema<A, I>, value: A) => Effect.Effect<void, CacheError>
    /**
     * `publish` for many messages in one round trip, in order (a subscriber of several of the channels sees
     * them in the order given). Every message is encoded first, so one that does not encode fails the batch
     * (`Encode`) before anything is published. Empty input costs nothing.
     */
    readonly publishBatch: <A, I>(
      schema: Schema.Schema<A, I>,
      messages: ReadonlyArray<readonly [channel: string, value: A]>
    ) => Effect.Effect<void, CacheError>
    /**
     * Publish `value` on `channel` unless `once.key` was claimed within its TTL, atomically: claiming the key
     * and publishing are one step (one Lua script on Redis), so however many instances and restarts try, one
     * publishes. True when this call published, false when the key was already claimed. A value that does not
     * encode fails (`Encode`) without claiming the key; a TTL that is not finite is an `Argument` error.
     */
    readonly publishOnce: <A, I>(
      channel: string,
      schema: Schema.Schema<A, I>,
      value: A,
      once: Once
    ) => Effect.Effect<boolean, CacheError>
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
    /**
     * Subscribe to every channel matching the glob `pattern` (Redis PSUBSCRIBE; `*` matches any run of
     * characters), each message with the logical channel it came on (no namespace prefix). One connection for
     * all the matching channels, which is what a fan-out to many clients needs. Same delivery rules as
     * `subscribe`: complete once acknowledged, malformed messages logged and skipped.
     */
    readonly subscribePattern: <A, I>(
      pattern: string,
      schema: Schema.Schema<A, I>
    ) => Effect.Effect<Stream.Stream<ChannelMessage<A>, CacheError>, CacheError, Scope.Scope>
  }
>() {}

/** A message and the channel it was published on. */
export interface ChannelMessage<A> {
  readonly channel: string
  readonly value: A
}

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

/** `decodeOrSkip` for messages that carry their channel. */
const decodeChannelMessages =
  <A, I>(schema: Schema.Schema<A, I>, pattern: string) =>
  <E>(messages: Stream.Stream<readonly [channel: string, message: string], E>): Stream.Stream<ChannelMessage<A>, E> =>
    messages.pipe(
      Stream.mapEffect(([channel, message]) =>
        decodeJson(schema, message, "Bus.subscribePattern", channel).pipe(
          Effect.map((value): Option.Option<ChannelMessage<A>> => Option.some({ channel, value })),
          Effect.catchAll((error) =>
            Effect.logWarning("Skipped a malformed message").pipe(
              Effect.annotateLogs({ channel, pattern, error: error.message }),
              Effect.as(Option.none<ChannelMessage<A>>())
            )
          )
        )
      ),
      Stream.filterMap(identity)
    )

/** A Redis glob as a RegExp, for the in-memory bus (`*`, `?` and `[…]` classes). */
const globToRegExp = (glob: string): RegExp => {
  let source = ""
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!
    if (c === "*") source += ".*"
    else if (c === "?") source += "."
    else if (c === "\\" && i + 1 < glob.length) source += glob[++i]!.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
    else if (c === "[") {
      const end = glob.indexOf("]", i + 1)
      if (end === -1) source += "\\["
      else {
        source += `[${glob.slice(i + 1, end).replace(/\\/g, "\\\\")}]`
        i = end
      }
    } else source += c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  }
  return new RegExp(`^${source}$`)
}

const ttlMillis = (op: string, once: Once): Effect.Effect<number, CacheError> => {
  const millis = Duration.toMillis(Duration.decode(once.ttl))
  return Number.isFinite(millis)
    ? Effect.succeed(Math.max(1, Math.ceil(millis)))
    : Effect.fail(argument(op, once.key, `the claim needs a finite TTL, got ${Duration.format(once.ttl)}`))
}

/** Encode every message, in order, under the channel name `channelOf` gives it; the first failure fails all. */
const encodeMessages = <A, I>(
  schema: Schema.Schema<A, I>,
  messages: ReadonlyArray<readonly [channel: string, value: A]>,
  channelOf: (channel: string) => string
): Effect.Effect<ReadonlyArray<readonly [channel: string, json: string]>, CacheError> =>
  Effect.suspend(() => {
    const encode = jsonEncoder(schema)
    const encoded = new Array<readonly [string, string]>(messages.length)
    for (let i = 0; i < messages.length; i++) {
      const [logical, value] = messages[i]!
      const channel = channelOf(logical)
      const json = encode(value, "Bus.publishBatch", channel)
      if (Either.isLeft(json)) return Effect.fail(json.left)
      encoded[i] = [channel, json.right]
    }
    return Effect.succeed(encoded)
  })

// KEYS[1] = the claim, ARGV = ttl in ms, channel, message. SET NX answers nil when the key exists.
const publishOnceScript = Script.make(`
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0
`)

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
      publishBatch: Effect.fn("Bus.publishBatch")(function* <A, I>(
        schema: Schema.Schema<A, I>,
        messages: ReadonlyArray<readonly [channel: string, value: A]>
      ) {
        const encoded = yield* encodeMessages(schema, messages, redis.key)
        const channels = encoded.map(([channel]) => channel)
        yield* Pipeline.exec(redis, "Bus.publishBatch", channels, (pipeline) => {
          for (const [channel, json] of encoded) pipeline.publish(channel, json)
        })
      }),
      publishOnce: Effect.fn("Bus.publishOnce")(function* <A, I>(
        channel: string,
        schema: Schema.Schema<A, I>,
        value: A,
        once: Once
      ) {
        const physical = redis.key(channel)
        const claim = redis.key(once.key)
        const ttl = yield* ttlMillis("Bus.publishOnce", once)
        const json = yield* encodeJson(schema, value, "Bus.publishOnce", physical)
        const published = yield* command(redis, "Bus.publishOnce", claim, (r) =>
          Script.run(r, publishOnceScript, claim, [ttl, physical, json])
        )
        return published === 1
      }),
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
        }).pipe(Effect.withSpan("Bus.subscribe", { attributes: { channel } })),
      subscribePattern: <A, I>(pattern: string, schema: Schema.Schema<A, I>) =>
        Effect.gen(function* () {
          const physical = Keys.escapeGlob(redis.prefix) + pattern
          const connection = yield* redis.dedicated.pipe(Effect.mapError(backend("Bus.subscribePattern", physical)))
          const mailbox = yield* Mailbox.make<readonly [string, string], CacheError>()
          const strip = redis.prefix.length
          const onMessage = (from: string, channel: string, message: string) => {
            if (from === physical) mailbox.unsafeOffer([channel.slice(strip), message])
          }
          const onEnd = () => {
            mailbox.unsafeDone(Exit.fail(backend("Bus.subscribePattern", physical)("the subscriber connection closed")))
          }
          yield* Effect.acquireRelease(
            Effect.sync(() => {
              connection.redis.on("pmessage", onMessage)
              connection.redis.on("end", onEnd)
            }),
            () =>
              Effect.sync(() => {
                connection.redis.off("pmessage", onMessage)
                connection.redis.off("end", onEnd)
                mailbox.unsafeDone(Exit.void)
              })
          )
          yield* command(connection, "Bus.subscribePattern", physical, (r) => r.psubscribe(physical))
          return Mailbox.toStream(mailbox).pipe(decodeChannelMessages(schema, physical))
        }).pipe(Effect.withSpan("Bus.subscribePattern", { attributes: { pattern } }))
    })
  })
)

/**
 * In-process pub/sub: an Effect `PubSub` per channel carrying encoded JSON, so decoding behaves as on Redis.
 * `publishOnce` claims keys in a map whose expiry follows the Effect `Clock`.
 */
export const layerMemory: Layer.Layer<Bus> = Layer.sync(Bus, () => {
  const hubs = new Map<string, PubSub.PubSub<string>>()
  const claims = new Map<string, number>()
  // Every message with its channel, for pattern subscribers; publishing to a PubSub nobody reads costs little.
  const everything = Effect.runSync(PubSub.unbounded<readonly [string, string]>())
  const deliver = (channel: string, json: string): Effect.Effect<void> =>
    Effect.flatMap(hub(channel), (h) => PubSub.publish(h, json)).pipe(
      Effect.zipRight(PubSub.publish(everything, [channel, json])),
      Effect.asVoid
    )
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
        Effect.flatMap((json) => deliver(channel, json)),
        Effect.withSpan("Bus.publish", { attributes: { channel } })
      ),
    publishBatch: Effect.fn("Bus.publishBatch")(function* <A, I>(
      schema: Schema.Schema<A, I>,
      messages: ReadonlyArray<readonly [channel: string, value: A]>
    ) {
      const encoded = yield* encodeMessages(schema, messages, identity)
      for (const [channel, json] of encoded) yield* deliver(channel, json)
    }),
    publishOnce: Effect.fn("Bus.publishOnce")(function* <A, I>(
      channel: string,
      schema: Schema.Schema<A, I>,
      value: A,
      once: Once
    ) {
      const ttl = yield* ttlMillis("Bus.publishOnce", once)
      const json = yield* encodeJson(schema, value, "Bus.publishOnce", channel)
      const now = yield* Clock.currentTimeMillis
      // Check and claim with nothing in between, as the script does on Redis; expired claims are dropped here.
      for (const [key, expiresAt] of claims) if (expiresAt <= now) claims.delete(key)
      if (claims.has(once.key)) return false
      claims.set(once.key, now + ttl)
      yield* deliver(channel, json)
      return true
    }),
    subscribe: <A, I>(channel: string, schema: Schema.Schema<A, I>) =>
      hub(channel).pipe(
        Effect.flatMap(PubSub.subscribe),
        Effect.map((queue) => Stream.fromQueue(queue).pipe(decodeOrSkip(schema, channel))),
        Effect.withSpan("Bus.subscribe", { attributes: { channel } })
      ),
    subscribePattern: <A, I>(pattern: string, schema: Schema.Schema<A, I>) => {
      const matcher = globToRegExp(pattern)
      return PubSub.subscribe(everything).pipe(
        Effect.map((queue) =>
          Stream.fromQueue(queue).pipe(
            Stream.filter(([channel]) => matcher.test(channel)),
            decodeChannelMessages(schema, pattern)
          )
        ),
        Effect.withSpan("Bus.subscribePattern", { attributes: { pattern } })
      )
    }
  })
})
