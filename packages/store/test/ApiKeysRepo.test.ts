import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Redacted } from "effect"
import { ApiKeysRepo, UsersRepo } from "../src/index.js"
import { MigratedStore, shared } from "./utils.js"

const withStore = shared(MigratedStore)

describe("ApiKeysRepo", () => {
  it.live("create → find by hash → touch → revoke", () =>
    Effect.gen(function* () {
      const repo = yield* ApiKeysRepo.ApiKeysRepo
      const sql = yield* SqlClient.SqlClient
      const owner = yield* (yield* UsersRepo.UsersRepo).upsert({ identityProvider: "clerk", subject: "key_owner" })

      const { apiKey, secret } = yield* repo.create({ name: "Perseus Web", ownerUserId: owner.id })
      const key = Redacted.value(secret)
      assert.match(key, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      assert.strictEqual(apiKey.prefix, key.slice(0, ApiKeysRepo.PREFIX_LENGTH))
      assert.deepStrictEqual(apiKey.ownerUserId, Option.some(owner.id))
      assert.isTrue(apiKey.isActive)
      assert.deepStrictEqual(apiKey.lastUsedAt, Option.none())

      // Only the hash is stored: no column holds the key.
      const rows = yield* sql<Record<string, unknown>>`SELECT * FROM api_keys WHERE id = ${apiKey.id}`
      assert.isFalse(Object.values(rows[0]!).some((v) => v === key))
      assert.strictEqual(rows[0]!.key_hash, ApiKeysRepo.hashKey(key))

      const found = yield* repo.findActiveByHash(ApiKeysRepo.hashKey(key))
      assert.deepStrictEqual(Option.map(found, (k) => k.id), Option.some(apiKey.id))
      assert.isTrue(Option.isNone(yield* repo.findActiveByHash(ApiKeysRepo.hashKey("00000000-0000-4000-8000-000000000000"))))

      yield* repo.touchLastUsed(apiKey.id)
      const touched = Option.getOrThrow(yield* repo.findActiveByHash(ApiKeysRepo.hashKey(key)))
      assert.isTrue(Option.isSome(touched.lastUsedAt))

      const revoked = yield* repo.revoke(apiKey.id)
      assert.isFalse(revoked.isActive)
      assert.isTrue(Option.isNone(yield* repo.findActiveByHash(ApiKeysRepo.hashKey(key))))
      const again = yield* repo.revoke(apiKey.id)
      assert.deepStrictEqual(again.revokedAt, revoked.revokedAt)

      const listed = yield* repo.list
      assert.deepStrictEqual(
        listed.filter((k) => k.id === apiKey.id).map((k) => [k.name, k.isActive]),
        [["Perseus Web", false]]
      )
    }).pipe(withStore)
  )

  it.live("keys without an owner, and distinct secrets per key", () =>
    Effect.gen(function* () {
      const repo = yield* ApiKeysRepo.ApiKeysRepo
      const a = yield* repo.create({ name: "ci" })
      const b = yield* repo.create({ name: "ci" })
      assert.deepStrictEqual(a.apiKey.ownerUserId, Option.none())
      assert.notStrictEqual(Redacted.value(a.secret), Redacted.value(b.secret))
      assert.notInclude(String(a.secret), Redacted.value(a.secret))
    }).pipe(withStore)
  )

  it.live("revoking an unknown key fails with RecordNotFound", () =>
    Effect.gen(function* () {
      const repo = yield* ApiKeysRepo.ApiKeysRepo
      const error = yield* Effect.flip(repo.revoke(999_999))
      assert.strictEqual(error._tag, "RecordNotFound")
      assert.strictEqual(error.message, "No api key with id 999999")
    }).pipe(withStore)
  )
})
