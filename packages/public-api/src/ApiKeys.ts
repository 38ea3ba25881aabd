/**
 * Who is calling: an `X-API-Key` (a UUID) is hashed and looked up in the public catalog (so a `pw-host` node
 * needs only Redis), the stored hash compared in constant time, and the use recorded for `last_used_at`.
 */
import { PublicCatalog } from "@livermore/cache"
import { Clock, Context, Effect, Layer, Option } from "effect"
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

/** How often one process records a key's use: `last_used_at` has minute precision, not request precision. */
const usageRecordEveryMs = 60_000

export class ApiKeyVerifier extends Context.Tag("@livermore/public-api/ApiKeyVerifier")<
  ApiKeyVerifier,
  {
    /** The owner of `rawKey` (`""` when none was sent), or why it does not authenticate. */
    readonly verify: (rawKey: string) => Effect.Effect<KeyOwner, Unauthorized | Unavailable>
  }
>() {}

export const layer = Layer.effect(
  ApiKeyVerifier,
  Effect.gen(function* () {
    const catalog = yield* PublicCatalog.PublicCatalog
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
      verify: Effect.fn("ApiKeyVerifier.verify")(function* (rawKey: string) {
        const key = rawKey.trim()
        if (key === "") return yield* new Unauthorized({ message: "X-API-Key header required" })
        if (!uuid.test(key)) return yield* new Unauthorized({ message: "X-API-Key is not a valid key (keys are UUIDs)" })
        const hash = hashKey(key.toLowerCase())
        const found = yield* catalog.findApiKey(hash).pipe(
          Effect.catchAll(() => new Unavailable({ message: "Authentication is temporarily unavailable; retry shortly" }))
        )
        if (Option.isNone(found) || !sameHash(found.value.keyHash, hash)) {
          return yield* new Unauthorized({ message: "Unknown or revoked API key" })
        }
        yield* recordUse(found.value.id)
        return { keyId: found.value.id, name: found.value.name }
      })
    })
  })
)
