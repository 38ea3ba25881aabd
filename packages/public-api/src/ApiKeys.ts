/**
 * Who is calling: an `X-API-Key` (a UUID) is hashed and looked up in the public catalog (so a `pw-host` node
 * needs only Redis), the stored hash compared in constant time, and the use recorded for `last_used_at`.
 */
import { Bus, Keys, PublicCatalog } from "@livermore/cache"
import { Context, Effect, Layer, Option, Schedule, Schema, Stream } from "effect"
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
    /** Record a key's use at most once a minute per process, in the background; nothing to run otherwise. */
    const recordUse = (id: number, now: number): Effect.Effect<void> | undefined => {
      const last = recorded.get(id)
      if (last !== undefined && now - last < usageRecordEveryMs) return undefined
      recorded.set(id, now)
      return Effect.asVoid(
        catalog.markApiKeyUsed(id, now).pipe(
          Effect.catchAll((error) => Effect.logWarning("Could not record an API key's use", error.message)),
          Effect.forkDaemon
        )
      )
    }
    const ownerOf = (found: PublicCatalog.CatalogApiKey, hash: string, now: number): Effect.Effect<KeyOwner, Unauthorized> => {
      if (!sameHash(found.keyHash, hash)) return Effect.fail(new Unauthorized({ message: "Unknown or revoked API key" }))
      const owner: KeyOwner = { keyId: found.id, name: found.name }
      const record = recordUse(found.id, now)
      return record === undefined ? Effect.succeed(owner) : Effect.as(record, owner)
    }
    return ApiKeyVerifier.of({
      // Untraced and, for a trusted key (nearly every request), one step: it runs on every request, inside the
      // request's own span.
      verify: (rawKey: string) =>
        Effect.clockWith((clock) => {
          const key = rawKey.trim()
          if (key === "") return Effect.fail(new Unauthorized({ message: "X-API-Key header required" }))
          if (!uuid.test(key)) return Effect.fail(new Unauthorized({ message: "X-API-Key is not a valid key (keys are UUIDs)" }))
          const hash = hashKey(key.toLowerCase())
          const now = clock.unsafeCurrentTimeMillis()
          const held = trusted.get(hash)
          if (held !== undefined && held.until > now) return ownerOf(held.key, hash, now)
          return Effect.flatMap(lookUp(hash, now), (found) =>
            Option.isNone(found)
              ? Effect.fail(new Unauthorized({ message: "Unknown or revoked API key" }))
              : ownerOf(found.value, hash, now)
          )
        })
    })
  })
)
