import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Migrations } from "../src/index.js"
import { freshClient } from "./utils.js"

const repoSql = Migrations.repoSqlDirectory()

const expectedFiles = [
  "0001_create_updated_at_function.sql",
  "0002_create_exchanges.sql",
  "0003_seed_exchanges.sql",
  "0004_create_users.sql",
  "0005_create_exchange_symbols.sql",
  "0006_create_positions.sql",
  "0007_create_alert_history.sql",
  "0008_create_api_keys.sql",
  "0009_create_admin_tokens.sql"
]

/** Run the migrator of `directory` against `sql`. */
const migrate = (sql: SqlClient.SqlClient, directory: string) =>
  Migrations.run({ directory }).pipe(Effect.provideService(SqlClient.SqlClient, sql))

/** A temp directory holding a copy of the repository's `sql/`, removed with the scope. */
const copyOfRepoSql = Effect.gen(function* () {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "livermore-sql-" })
  for (const file of yield* fs.readDirectory(repoSql)) {
    yield* fs.copyFile(path.join(repoSql, file), path.join(dir, file))
  }
  return dir
})

/** A temp directory with the given files. */
const dirWith = (files: Record<string, string>) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "livermore-sql-" })
    for (const [name, text] of Object.entries(files)) yield* fs.writeFileString(path.join(dir, name), text)
    return dir
  })

const writeIn = (dir: string, name: string, text: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    yield* fs.writeFileString(path.join(dir, name), text)
  })

const count = (sql: SqlClient.SqlClient, query: string) =>
  sql.unsafe<{ readonly n: number }>(query).pipe(Effect.map((rows) => Number(rows[0]!.n)))

const tableExists = (sql: SqlClient.SqlClient, table: string) =>
  count(sql, `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = '${table}'`).pipe(
    Effect.map((n) => n === 1)
  )

const withNode = Effect.provide(NodeContext.layer)

describe("Migrations", () => {
  it.scopedLive("applies every file of sql/ in order, then nothing on a second run", () =>
    Effect.gen(function* () {
      const sql = yield* freshClient()
      const first = yield* migrate(sql, repoSql)
      assert.deepStrictEqual(
        first.applied.map((m) => m.file),
        expectedFiles
      )
      assert.deepStrictEqual(first.skipped, [])

      const second = yield* migrate(sql, repoSql)
      assert.deepStrictEqual(second.applied, [])
      assert.deepStrictEqual(
        second.skipped.map((m) => m.file),
        expectedFiles
      )

      const files = yield* Migrations.load(repoSql)
      const recorded = yield* sql<{
        readonly id: number
        readonly name: string
        readonly checksum: string
      }>`SELECT id, name, checksum FROM schema_migrations ORDER BY id`
      assert.deepStrictEqual(
        recorded.map((r) => ({ ...r })),
        files.map((f) => ({ id: f.id, name: f.name, checksum: f.checksum }))
      )
    }).pipe(withNode)
  )

  it.scopedLive("creates every table, index and seed row", () =>
    Effect.gen(function* () {
      const sql = yield* freshClient()
      yield* migrate(sql, repoSql)
      const tables = yield* sql<{ readonly table_name: string }>`
        SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`
      assert.deepStrictEqual(
        tables.map((t) => t.table_name),
        [
          "admin_tokens",
          "alert_history",
          "api_keys",
          "exchange_symbols",
          "exchanges",
          "positions",
          "schema_migrations",
          "user_exchanges",
          "users"
        ]
      )
      const exchanges = yield* sql<{ readonly name: string; readonly ws_url: string; readonly rest_url: string }>`
        SELECT name, ws_url, rest_url FROM exchanges ORDER BY id`
      assert.strictEqual(exchanges.length, 8)
      assert.isTrue(exchanges.every((e) => /^wss?:\/\//.test(e.ws_url) && /^https?:\/\//.test(e.rest_url)))
      const defaultIndex = yield* count(
        sql,
        "SELECT count(*)::int AS n FROM pg_indexes WHERE indexname = 'user_exchanges_one_default_per_user'"
      )
      assert.strictEqual(defaultIndex, 1)
    }).pipe(withNode)
  )

  it.scopedLive("an edited applied file fails the next run, naming the file, before anything is applied", () =>
    Effect.gen(function* () {
      const sql = yield* freshClient()
      const dir = yield* copyOfRepoSql
      yield* migrate(sql, dir)

      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const edited = path.join(dir, "0004_create_users.sql")
      yield* fs.writeFileString(edited, `${yield* fs.readFileString(edited)}\nALTER TABLE users ADD COLUMN nickname text;\n`)
      yield* writeIn(dir, "0010_create_widgets.sql", "CREATE TABLE widgets (id serial PRIMARY KEY);")

      const error = yield* Effect.flip(migrate(sql, dir))
      assert.strictEqual(error._tag, "MigrationError")
      assert.strictEqual(error.reason, "checksum-mismatch")
      assert.strictEqual(error.file, "0004_create_users.sql")
      assert.include(error.message, "0004_create_users.sql")
      assert.isFalse(yield* tableExists(sql, "widgets"))
      assert.strictEqual(yield* count(sql, "SELECT count(*)::int AS n FROM schema_migrations"), 9)
    }).pipe(withNode)
  )

  it.scopedLive("CRLF line endings do not count as an edit", () =>
    Effect.gen(function* () {
      const sql = yield* freshClient()
      const dir = yield* dirWith({ "0001_create_a.sql": "CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n" })
      yield* migrate(sql, dir)
      yield* writeIn(dir, "0001_create_a.sql", "CREATE TABLE a (id int);\r\nCREATE TABLE b (id int);\r\n")
      const report = yield* migrate(sql, dir)
      assert.deepStrictEqual(report.applied, [])
    }).pipe(withNode)
  )

  it.scopedLive("a deleted applied file fails the run, naming it", () =>
    Effect.gen(function* () {
      const sql = yield* freshClient()
      const dir = yield* copyOfRepoSql
      yield* migrate(sql, dir)
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      yield* fs.remove(path.join(dir, "0008_create_api_keys.sql"))
      const error = yield* Effect.flip(migrate(sql, dir))
      assert.strictEqual(error.reason, "missing-file")
      assert.strictEqual(error.file, "0008_create_api_keys.sql")
    }).pipe(withNode)
  )

  it.scopedLive("a renamed applied file fails the run", () =>
    Effect.gen(function* () {
      const sql = yield* freshClient()
      const dir = yield* dirWith({ "0001_create_a.sql": "CREATE TABLE a (id int);" })
      yield* migrate(sql, dir)
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      yield* fs.rename(path.join(dir, "0001_create_a.sql"), path.join(dir, "0001_create_alpha.sql"))
      const error = yield* Effect.flip(migrate(sql, dir))
      assert.strictEqual(error.reason, "renamed")
      assert.strictEqual(error.file, "0001_create_alpha.sql")
    }).pipe(withNode)
  )

  it.scopedLive("duplicated numbers fail before touching the database", () =>
    Effect.gen(function* () {
      const sql = yield* freshClient()
      const dir = yield* dirWith({
        "0001_create_a.sql": "CREATE TABLE a (id int);",
        "0002_create_b.sql": "CREATE TABLE b (id int);",
        "0002_create_c.sql": "CREATE TABLE c (id int);"
      })
      const error = yield* Effect.flip(migrate(sql, dir))
      assert.strictEqual(error.reason, "duplicate-id")
      assert.strictEqual(error.file, "0002_create_c.sql")
      assert.include(error.message, "0002_create_b.sql")
      assert.isFalse(yield* tableExists(sql, "a"))
      assert.isFalse(yield* tableExists(sql, "schema_migrations"))
    }).pipe(withNode)
  )

  it.scopedLive("a badly named .sql file fails; other files are ignored", () =>
    Effect.gen(function* () {
      const sql = yield* freshClient()
      const dir = yield* dirWith({
        "0001_create_a.sql": "CREATE TABLE a (id int);",
        "README.md": "not a migration",
        "2-create-b.sql": "CREATE TABLE b (id int);"
      })
      const error = yield* Effect.flip(migrate(sql, dir))
      assert.strictEqual(error.reason, "invalid-name")
      assert.strictEqual(error.file, "2-create-b.sql")
    }).pipe(withNode)
  )

  it.scopedLive("a new file numbered below an applied one fails as out of order", () =>
    Effect.gen(function* () {
      const sql = yield* freshClient()
      const dir = yield* dirWith({
        "0001_create_a.sql": "CREATE TABLE a (id int);",
        "0003_create_c.sql": "CREATE TABLE c (id int);"
      })
      yield* migrate(sql, dir)
      yield* writeIn(dir, "0002_create_b.sql", "CREATE TABLE b (id int);")
      const error = yield* Effect.flip(migrate(sql, dir))
      assert.strictEqual(error.reason, "out-of-order")
      assert.strictEqual(error.file, "0002_create_b.sql")
      assert.isFalse(yield* tableExists(sql, "b"))
    }).pipe(withNode)
  )

  it.scopedLive("a failing file is rolled back whole and named with its line; earlier files stay applied", () =>
    Effect.gen(function* () {
      const sql = yield* freshClient()
      const dir = yield* dirWith({
        "0001_create_a.sql": "CREATE TABLE a (id int);",
        "0002_broken.sql": "CREATE TABLE b (id int);\n\nCREATE TABLE c (id int,);\n",
        "0003_create_d.sql": "CREATE TABLE d (id int);"
      })
      const error = yield* Effect.flip(migrate(sql, dir))
      assert.strictEqual(error.reason, "apply-failed")
      assert.strictEqual(error.file, "0002_broken.sql")
      assert.include(error.message, "line 3")
      assert.isTrue(yield* tableExists(sql, "a"))
      assert.isFalse(yield* tableExists(sql, "b"))
      assert.isFalse(yield* tableExists(sql, "d"))
      assert.strictEqual(yield* count(sql, "SELECT count(*)::int AS n FROM schema_migrations"), 1)
    }).pipe(withNode)
  )

  it.scopedLive("concurrent runs apply each file exactly once", () =>
    Effect.gen(function* () {
      const sql = yield* freshClient(8)
      const reports = yield* Effect.all(
        Array.from({ length: 4 }, () => migrate(sql, repoSql)),
        { concurrency: "unbounded" }
      )
      const applied = reports.flatMap((r) => r.applied.map((m) => m.file)).sort()
      assert.deepStrictEqual(applied, expectedFiles)
      for (const report of reports) {
        assert.strictEqual(report.applied.length + report.skipped.length, expectedFiles.length)
      }
      assert.strictEqual(yield* count(sql, "SELECT count(*)::int AS n FROM exchanges"), 8)
    }).pipe(withNode)
  )

  it.scopedLive("the layer form migrates at startup", () =>
    Effect.gen(function* () {
      const sql = yield* freshClient()
      yield* Layer.build(
        Migrations.layer({ directory: repoSql }).pipe(Layer.provide(Layer.succeed(SqlClient.SqlClient, sql)))
      )
      assert.strictEqual(yield* count(sql, "SELECT count(*)::int AS n FROM schema_migrations"), expectedFiles.length)
    }).pipe(withNode)
  )
})
