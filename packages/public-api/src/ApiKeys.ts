/**
 * Who is calling: an `X-API-Key` (a UUID) is hashed and looked up in the public catalog (so a `pw-host` node
 * needs only Redis), the stored hash compared in constant time, and the use recorded for `last_used_at`.
 */
import { Bus, Keys, PublicCatalog } from "@livermore/cache"
import { Clock, Context, Effect, Layer, Option, Schedule, Schema, Stream } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"
import { Unauthorized, Unavailable } from "./PublicErrors.js"

/** The key behind a request or a stream connection. */
export interface KeyOwner {
  readonly keyId: number
  readonly name: string
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** SHA-256 (hex) of a key, as `ApiKeysRepo.hashKey` stores it. */
export const hashKey = (key: string): string => createHash("sha256").update(key, "utf8").digest("hex")

/** Whether two hex digests are equal, in time that does not depend on where they differ. */
const sameHash = (stored: string, computed: string): boolean =>
  stored.length === computed.length && timingSafeEqual(Buffer.from(stored, "hex"), Buffer.from(computed, "hex"))

/**
 * How long a process trusts a key it found in the catalog without looking again. A revocation is published
 * (`Keys.apiKeysChangedChannel`) and clears every process's trusted keys at once; this bounds the delay for a
 * process that missed the publication.
 */
export const trustedForMs = 10_000

/** The most keys trusted at once; past it the oldest are forgotten first. */
const trustedCapacity = 100_000

/** The message of `Keys.apiKeysChangedChannel`. */
export const ApiKeysChanged = Schema.Literal("changed")

/** How often one process records a key's use: `last_used_at` has minute precision, not request precision. */
const usageRecordEveryMs = 60_000

export class ApiKeyVerifier extends Context.Tag("@livermore/public-api/ApiKeyVerifier")<
  ApiKeyVerifier,
  {
    /** The owner of `rawKey` (`""` when none was sent), or why it does not authenticate. */
    readonly verify: (rawKey: string) => Effect.Effect<KeyOwner, Unauthorized | Unavailable>
  }
>() {}

export const layer = Layer.scoped(
  ApiKeyVerifier,
  Effect.gen(function* () {
    const catalog = yield* PublicCatalog.PublicCatalog
    const bus = yield* Bus.Bus
    // Hash → the key and until when it is trusted. Insertion order is age order: the first entries expire first.
    const trusted = new Map<string, { readonly key: PublicCatalog.CatalogApiKey; readonly until: number }>()
    const forgetAll = Effect.sync(() => trusted.clear())
    const lost = (cause: unknown) =>
      Effect.logWarning("API keys: the key-change subscription was lost; subscribing again").pipe(
        Effect.annotateLogs({ error: cause instanceof Error ? cause.message : String(cause) })
      )
    // A lost subscription may have missed a revocation: forget every key when it ends, then subscribe again.
    const follow = (changes: Stream.Stream<unknown, unknown>) =>
      Stream.runForEach(changes, () => forgetAll).pipe(Effect.ensuring(forgetAll))
    const first = yield* bus.subscribe(Keys.apiKeysChangedChannel, ApiKeysChanged)
    yield* follow(first).pipe(
      Effect.catchAll(lost),
      Effect.zipRight(
        Effect.scoped(Effect.flatMap(bus.subscribe(Keys.apiKeysChangedChannel, ApiKeysChanged), follow)).pipe(
          Effect.tapError(lost),
          Effect.retry(Schedule.spaced("1 second")),
          Effect.zipRight(Effect.sleep("1 second")),
          Effect.forever
        )
      ),
      Effect.forkScoped
    )

    const lookUp = (hash: string, now: number) =>
      Effect.gen(function* () {
        const held = trusted.get(hash)
        if (held !== undefined && held.until > now) return Option.some(held.key)
        const found = yield* catalog.findApiKey(hash).pipe(
          Effect.catchAll(() => new Unavailable({ message: "Authentication is temporarily unavailable; retry shortly" }))
        )
        trusted.delete(hash)
        if (Option.isSome(found)) {
          if (trusted.size >= trustedCapacity) trusted.delete(trusted.keys().next().value!)
          trusted.set(hash, { key: found.value, until: now + trustedForMs })
        }
        return found
      })
    const recorded = new Map<number, number>()
    const recordUse = (id: number) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const last = recorded.get(id)
        if (last !== undefined && now - last < usageRecordEveryMs) return
        recorded.set(id, now)
        yield* catalog.markApiKeyUsed(id, now).pipe(
          Effect.catchAll((error) => Effect.logWarning("Could not record an API key's use", error.message)),
          Effect.forkDaemon
        )
      })
    return ApiKeyVerifier.of({
      // Untraced: it runs on every request, inside the request's own span; a span of its own cost ~9 µs.
      verify: Effect.fnUntraced(function* (rawKey: string) {
        const key = rawKey.trim()
        if (key === "") return yield* new Unauthorized({ message: "X-API-Key header required" })
        if (!uuid.test(key)) return yield* new Unauthorized({ message: "X-API-Key is not a valid key (keys are UUIDs)" })
        const hash = hashKey(key.toLowerCase())
        const now = yield* Clock.currentTimeMillis
        const found = yield* lookUp(hash, now)
        if (Option.isNone(found) || !sameHash(found.value.keyHash, hash)) {
          return yield* new Unauthorized({ message: "Unknown or revoked API key" })
        }
        yield* recordUse(found.value.id)
        return { keyId: found.value.id, name: found.value.name }
      })
    })
  })
)
