import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { ExchangesRepo, UserExchangesRepo, UsersRepo } from "../src/index.js"
import { MigratedStore, shared } from "./utils.js"

const withStore = shared(MigratedStore)

let subjects = 0
/** A user of its own for each test, so tests stay independent on the shared database. */
const newUser = Effect.gen(function* () {
  const users = yield* UsersRepo.UsersRepo
  subjects += 1
  return yield* users.upsert({ identityProvider: "clerk", subject: `user_${subjects}`, email: `u${subjects}@example.com` })
})

const exchangeId = (name: string) => Effect.flatMap(ExchangesRepo.ExchangesRepo, (repo) => repo.byName(name)).pipe(Effect.map((e) => e.id))

describe("UsersRepo", () => {
  it.live("upsert inserts once per provider + subject and keeps role and settings on later sign-ins", () =>
    Effect.gen(function* () {
      const users = yield* UsersRepo.UsersRepo
      const first = yield* users.upsert({
        identityProvider: "clerk",
        subject: "user_upsert",
        email: "old@example.com",
        displayName: "Old",
        role: "admin"
      })
      assert.strictEqual(first.role, "admin")
      assert.deepStrictEqual(first.settings, {})
      yield* users.setSettings(first.id, { theme: "dark" })

      const again = yield* users.upsert({
        identityProvider: "clerk",
        subject: "user_upsert",
        email: "new@example.com",
        role: "viewer"
      })
      assert.strictEqual(again.id, first.id)
      assert.deepStrictEqual(again.email, Option.some("new@example.com"))
      assert.deepStrictEqual(again.displayName, Option.none())
      assert.strictEqual(again.role, "admin")
      assert.deepStrictEqual(again.settings, { theme: "dark" })

      assert.deepStrictEqual(yield* users.byId(first.id), again)
      assert.deepStrictEqual(yield* users.byIdentity("clerk", "user_upsert"), Option.some(again))
      assert.deepStrictEqual(yield* users.byIdentity("clerk", "nobody"), Option.none())
    }).pipe(withStore)
  )

  it.live("byId of a missing user fails with RecordNotFound", () =>
    Effect.gen(function* () {
      const users = yield* UsersRepo.UsersRepo
      const error = yield* Effect.flip(users.byId(999_999))
      assert.strictEqual(error._tag, "RecordNotFound")
      assert.strictEqual(error.message, "No user with id 999999")
    }).pipe(withStore)
  )
})

describe("UserExchangesRepo", () => {
  it.live("the database allows at most one default connection per user", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const user = yield* newUser
      const binance = yield* exchangeId("binance")
      const coinbase = yield* exchangeId("coinbase")
      yield* sql`INSERT INTO user_exchanges (user_id, exchange_id, display_name, is_default)
                 VALUES (${user.id}, ${binance}, 'Binance', true)`
      const error = yield* Effect.flip(
        sql`INSERT INTO user_exchanges (user_id, exchange_id, display_name, is_default)
            VALUES (${user.id}, ${coinbase}, 'Coinbase', true)`
      )
      assert.match(String(error.cause), /user_exchanges_one_default_per_user/)
      // Non-default rows and other users' defaults are unaffected by the index.
      yield* sql`INSERT INTO user_exchanges (user_id, exchange_id, display_name, is_default)
                 VALUES (${user.id}, ${coinbase}, 'Coinbase', false)`
      const other = yield* newUser
      yield* sql`INSERT INTO user_exchanges (user_id, exchange_id, display_name, is_default)
                 VALUES (${other.id}, ${coinbase}, 'Coinbase', true)`
    }).pipe(withStore)
  )

  it.live("setDefault swaps the default in one transaction", () =>
    Effect.gen(function* () {
      const repo = yield* UserExchangesRepo.UserExchangesRepo
      const user = yield* newUser
      const a = yield* repo.create({
        userId: user.id,
        exchangeId: yield* exchangeId("binance"),
        displayName: "Binance main",
        credentials: { apiKey: "BINANCE_API_KEY", apiSecret: "BINANCE_API_SECRET" },
        isDefault: true
      })
      const b = yield* repo.create({ userId: user.id, exchangeId: yield* exchangeId("coinbase"), displayName: "Coinbase" })
      assert.isTrue(a.isDefault)
      assert.isFalse(b.isDefault)

      const swapped = yield* repo.setDefault(user.id, b.id)
      assert.isTrue(swapped.isDefault)
      const defaults = (yield* repo.listByUser(user.id)).map((c) => [c.displayName, c.isDefault])
      assert.deepStrictEqual(defaults, [
        ["Binance main", false],
        ["Coinbase", true]
      ])
      assert.deepStrictEqual(Option.map(yield* repo.defaultFor(user.id), (c) => c.id), Option.some(b.id))
    }).pipe(withStore)
  )

  it.live("creating a new default replaces the previous one", () =>
    Effect.gen(function* () {
      const repo = yield* UserExchangesRepo.UserExchangesRepo
      const user = yield* newUser
      const a = yield* repo.create({ userId: user.id, exchangeId: yield* exchangeId("binance"), displayName: "A", isDefault: true })
      const b = yield* repo.create({ userId: user.id, exchangeId: yield* exchangeId("binance_us"), displayName: "B", isDefault: true })
      const rows = yield* repo.listByUser(user.id)
      assert.deepStrictEqual(
        rows.map((c) => [c.id, c.isDefault]),
        [
          [a.id, false],
          [b.id, true]
        ]
      )
    }).pipe(withStore)
  )

  it.live("setDefault on another user's connection fails and keeps the current default", () =>
    Effect.gen(function* () {
      const repo = yield* UserExchangesRepo.UserExchangesRepo
      const owner = yield* newUser
      const stranger = yield* newUser
      const mine = yield* repo.create({ userId: owner.id, exchangeId: yield* exchangeId("binance"), displayName: "Mine", isDefault: true })
      const theirs = yield* repo.create({ userId: stranger.id, exchangeId: yield* exchangeId("coinbase"), displayName: "Theirs" })
      const error = yield* Effect.flip(repo.setDefault(owner.id, theirs.id))
      assert.strictEqual(error._tag, "RecordNotFound")
      assert.deepStrictEqual(Option.map(yield* repo.defaultFor(owner.id), (c) => c.id), Option.some(mine.id))
    }).pipe(withStore)
  )

  it.live("credentials are environment variable names, checked before and by the database", () =>
    Effect.gen(function* () {
      const repo = yield* UserExchangesRepo.UserExchangesRepo
      const sql = yield* SqlClient.SqlClient
      const user = yield* newUser
      const binance = yield* exchangeId("binance")

      const rejected = yield* Effect.flip(
        repo.create({
          userId: user.id,
          exchangeId: binance,
          displayName: "Leaky",
          credentials: { apiKey: "sk-live-0123456789", apiSecret: "BINANCE_API_SECRET" }
        })
      )
      assert.strictEqual(rejected._tag, "StoreError")
      assert.include(rejected.message, "environment variable name")

      const check = yield* Effect.flip(
        sql`INSERT INTO user_exchanges (user_id, exchange_id, display_name, api_key_env_var, api_secret_env_var)
            VALUES (${user.id}, ${binance}, 'Raw', 'not a name', 'X')`
      )
      assert.match(String(check.cause), /user_exchanges_api_key_env_var_check/)
      const unpaired = yield* Effect.flip(
        sql`INSERT INTO user_exchanges (user_id, exchange_id, display_name, api_key_env_var)
            VALUES (${user.id}, ${binance}, 'Raw', 'ONLY_KEY')`
      )
      assert.match(String(unpaired.cause), /user_exchanges_credentials_paired/)
    }).pipe(withStore)
  )

  it.live("update changes the given fields only; credentials can be removed", () =>
    Effect.gen(function* () {
      const repo = yield* UserExchangesRepo.UserExchangesRepo
      const user = yield* newUser
      const created = yield* repo.create({
        userId: user.id,
        exchangeId: yield* exchangeId("coinbase"),
        displayName: "Coinbase",
        credentials: { apiKey: "CB_KEY_NAME", apiSecret: "CB_PRIVATE_KEY" }
      })
      assert.deepStrictEqual(
        Option.map(created.credentials, (c) => [c.apiKey, c.apiSecret]),
        Option.some(["CB_KEY_NAME", "CB_PRIVATE_KEY"])
      )

      const renamed = yield* repo.update(created.id, { displayName: "Coinbase (Mike)", isActive: false })
      assert.strictEqual(renamed.displayName, "Coinbase (Mike)")
      assert.isFalse(renamed.isActive)
      assert.isTrue(Option.isSome(renamed.credentials))

      const publicOnly = yield* repo.update(created.id, { credentials: null })
      assert.isTrue(Option.isNone(publicOnly.credentials))
      assert.strictEqual(publicOnly.displayName, "Coinbase (Mike)")

      assert.strictEqual((yield* Effect.flip(repo.update(999_999, { isActive: true })))._tag, "RecordNotFound")
    }).pipe(withStore)
  )
})
