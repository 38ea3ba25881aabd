import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Option, Redacted } from "effect"
import { AdminTokensRepo, StoreError, UsersRepo } from "../src/index.js"
import { MigratedStore, shared } from "./utils.js"

const withStore = shared(MigratedStore)

describe("AdminTokensRepo", () => {
  it.live("create → find by hash with its user → touch → revoke; only the hash is stored", () =>
    Effect.gen(function* () {
      const repo = yield* AdminTokensRepo.AdminTokensRepo
      const users = yield* UsersRepo.UsersRepo
      const sql = yield* SqlClient.SqlClient
      const admin = yield* users.upsert({ identityProvider: "local", subject: "ops@example.com", role: "admin" })
      const expiresAt = DateTime.add(DateTime.unsafeNow(), { days: 30 })

      const { token, secret } = yield* repo.create({ userId: admin.id, name: "laptop", expiresAt })
      const value = Redacted.value(secret)
      assert.isTrue(AdminTokensRepo.looksLikeToken(value), value)
      assert.strictEqual(token.prefix, value.slice(0, AdminTokensRepo.PREFIX_LENGTH))
      assert.strictEqual(token.userId, admin.id)
      assert.strictEqual(
        DateTime.toEpochMillis(Option.getOrThrow(token.expiresAt)),
        Math.trunc(DateTime.toEpochMillis(expiresAt))
      )

      const rows = yield* sql<Record<string, unknown>>`SELECT * FROM admin_tokens WHERE id = ${token.id}`
      assert.isFalse(Object.values(rows[0]!).some((v) => v === value), "the token itself is not stored")
      assert.strictEqual(rows[0]!.token_hash, AdminTokensRepo.hashToken(value))

      const found = Option.getOrThrow(yield* repo.findByHash(AdminTokensRepo.hashToken(value)))
      assert.strictEqual(found.token.id, token.id)
      assert.strictEqual(found.user.subject, "ops@example.com")
      assert.strictEqual(found.user.role, "admin")
      assert.isTrue(Option.isNone(yield* repo.findByHash(AdminTokensRepo.hashToken(`lva_${"x".repeat(43)}`))))

      yield* repo.touchLastUsed(token.id)
      assert.isTrue(Option.isSome(Option.getOrThrow(yield* repo.findByHash(AdminTokensRepo.hashToken(value))).token.lastUsedAt))

      const revoked = yield* repo.revoke(token.id)
      assert.isTrue(Option.isSome(revoked.revokedAt))
      // Still found, so the caller can say "revoked" rather than "unknown".
      const afterRevoke = Option.getOrThrow(yield* repo.findByHash(AdminTokensRepo.hashToken(value)))
      assert.deepStrictEqual(afterRevoke.token.revokedAt, revoked.revokedAt)
      assert.deepStrictEqual((yield* repo.revoke(token.id)).revokedAt, revoked.revokedAt)
      assert.include((yield* repo.list).map((t) => t.id), token.id)

      const missing = yield* Effect.flip(repo.revoke(987_654))
      assert.instanceOf(missing, StoreError.RecordNotFound)
    }).pipe(withStore)
  )

  it.live("a token's role is its user's: setRole changes what the token finds", () =>
    Effect.gen(function* () {
      const repo = yield* AdminTokensRepo.AdminTokensRepo
      const users = yield* UsersRepo.UsersRepo
      const viewer = yield* users.upsert({ identityProvider: "local", subject: "viewer@example.com" })
      assert.strictEqual(viewer.role, "viewer")
      const { secret } = yield* repo.create({ userId: viewer.id, name: "read only" })
      const find = repo.findByHash(AdminTokensRepo.hashToken(Redacted.value(secret)))
      assert.strictEqual(Option.getOrThrow(yield* find).user.role, "viewer")
      yield* users.setRole(viewer.id, "admin")
      assert.strictEqual(Option.getOrThrow(yield* find).user.role, "admin")
      assert.isTrue(Option.isNone(Option.getOrThrow(yield* find).token.expiresAt))
    }).pipe(withStore)
  )
})
