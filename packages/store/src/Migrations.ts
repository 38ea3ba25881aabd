/**
 * Livermore's own migrator for the plain-SQL files in `sql/` (`0001_create_exchanges.sql`, …).
 *
 * `@effect/sql`'s Migrator loads only `.js`/`.ts` files and records no checksum, so an edited migration
 * would go unnoticed. Here every applied file is recorded with the SHA-256 of its text in
 * `schema_migrations`, and any drift (an edited, renamed or deleted applied file, a duplicated number, a new
 * file numbered below the last applied one) fails the run, naming the file, before anything is applied.
 * Each pending file runs in its own transaction under a transaction-scoped advisory lock, so concurrent
 * instances starting together apply every file exactly once (PGlite included).
 */
import { FileSystem, Path } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Array as Arr, Clock, Data, Effect, Layer, Option, Order, Predicate } from "effect"
import { createHash } from "node:crypto"
import { fileURLToPath } from "node:url"
import { describeCause } from "./internal/describe.js"

/** One `NNNN_name.sql` file. */
export interface MigrationFile {
  /** The number before the first underscore; files apply in ascending order. */
  readonly id: number
  /** The part between the number and `.sql`. */
  readonly name: string
  /** The file name, e.g. `0002_create_exchanges.sql`. */
  readonly file: string
  /** SHA-256 (hex) of the text with CRLF line endings normalised to LF, so a Windows checkout is not an edit. */
  readonly checksum: string
  readonly sql: string
}

/** A migration as reported back to the caller. */
export interface MigrationSummary {
  readonly id: number
  readonly name: string
  readonly file: string
  readonly checksum: string
}

/** What a run did. */
export interface MigrationReport {
  /** Applied by this run, in order, with how long each took. */
  readonly applied: ReadonlyArray<MigrationSummary & { readonly durationMs: number }>
  /** Already applied (by an earlier run, or by a concurrent one while this run waited for the lock). */
  readonly skipped: ReadonlyArray<MigrationSummary>
}

/** Why a run refused to proceed or stopped. */
export type MigrationErrorReason =
  /** The directory or a file could not be read. */
  | "read-failed"
  /** A `.sql` file whose name is not `NNNN_name.sql` (lowercase name, number ≥ 1). */
  | "invalid-name"
  /** Two files share a number. */
  | "duplicate-id"
  /** An applied file's text changed since it was applied. */
  | "checksum-mismatch"
  /** An applied number now has a different name. */
  | "renamed"
  /** An applied file is no longer in the directory. */
  | "missing-file"
  /** A pending file is numbered below an applied one, so it would run out of order. */
  | "out-of-order"
  /** The file's SQL failed; its transaction was rolled back. */
  | "apply-failed"
  /** The bookkeeping queries (lock, `schema_migrations`) failed. */
  | "database"

/** A migration run failed; `file` names the file concerned (or the bookkeeping table for `database`). */
export class MigrationError extends Data.TaggedError("MigrationError")<{
  readonly reason: MigrationErrorReason
  readonly file: string
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `Migration ${this.file}: ${this.detail}`
  }
}

/** Options of a run. */
export interface Options {
  /** Absolute path of the directory holding the `NNNN_name.sql` files; see `repoSqlDirectory`. */
  readonly directory: string
  /** Bookkeeping table. Default `schema_migrations`. */
  readonly table?: string | undefined
}

/** The repository's `sql/` directory, resolved from this module (`packages/store/src` → `sql`). */
export const repoSqlDirectory = (): string => fileURLToPath(new URL("../../../sql", import.meta.url))

/** SHA-256 hex of a migration's text, line endings normalised. */
export const checksum = (text: string): string =>
  createHash("sha256").update(text.replace(/\r\n/g, "\n"), "utf8").digest("hex")

const FILE_NAME = /^(\d{4,})_([a-z0-9][a-z0-9_]*)\.sql$/

const byId = Order.mapInput(Order.number, (m: { readonly id: number }) => m.id)

const fileName = (id: number, name: string): string => `${String(id).padStart(4, "0")}_${name}.sql`

/**
 * Read and validate the migration files of `directory`, ordered by number. Fails on an unreadable
 * directory, a badly named `.sql` file or a duplicated number; other files (a README) are ignored.
 */
export const load = Effect.fn("Migrations.load")(function* (directory: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const entries = yield* fs.readDirectory(directory).pipe(
    Effect.mapError(
      (cause) =>
        new MigrationError({ reason: "read-failed", file: directory, detail: `cannot read the directory (${cause.message})`, cause })
    )
  )
  const files: Array<MigrationFile> = []
  for (const entry of entries.filter((e) => e.endsWith(".sql")).sort()) {
    const match = FILE_NAME.exec(entry)
    const id = match ? Number(match[1]) : 0
    if (!match || id < 1 || !Number.isSafeInteger(id)) {
      return yield* new MigrationError({
        reason: "invalid-name",
        file: entry,
        detail: "expected NNNN_name.sql: a number from 0001 up, an underscore, then lowercase letters, digits and underscores"
      })
    }
    const sql = yield* fs.readFileString(path.join(directory, entry)).pipe(
      Effect.mapError(
        (cause) => new MigrationError({ reason: "read-failed", file: entry, detail: `cannot read (${cause.message})`, cause })
      )
    )
    const clash = files.find((f) => f.id === id)
    if (clash) {
      return yield* new MigrationError({
        reason: "duplicate-id",
        file: entry,
        detail: `number ${match[1]} is also used by ${clash.file}`
      })
    }
    files.push({ id, name: match[2]!, file: entry, checksum: checksum(sql), sql })
  }
  return Arr.sort(files, byId)
})

interface AppliedRow {
  readonly id: number
  readonly name: string
  readonly checksum: string
}

const summary = (m: MigrationFile): MigrationSummary => ({ id: m.id, name: m.name, file: m.file, checksum: m.checksum })

/**
 * Compare the files with what the database records; fail on any drift. Returns the files still to apply.
 * Runs before anything is applied, and again inside each file's transaction in case a concurrent run
 * (possibly of another version) changed the table meanwhile.
 */
const verify = (
  files: ReadonlyArray<MigrationFile>,
  applied: ReadonlyArray<AppliedRow>
): Effect.Effect<ReadonlyArray<MigrationFile>, MigrationError> =>
  Effect.gen(function* () {
    for (const row of applied) {
      const file = files.find((f) => f.id === row.id)
      if (!file) {
        return yield* new MigrationError({
          reason: "missing-file",
          file: fileName(row.id, row.name),
          detail: "was applied but is no longer in the migrations directory; restore it (applied migrations are never deleted)"
        })
      }
      if (file.name !== row.name) {
        return yield* new MigrationError({
          reason: "renamed",
          file: file.file,
          detail: `number ${row.id} was applied as ${fileName(row.id, row.name)}; restore the original name`
        })
      }
      if (file.checksum !== row.checksum) {
        return yield* new MigrationError({
          reason: "checksum-mismatch",
          file: file.file,
          detail: `was edited after it was applied (checksum ${row.checksum.slice(0, 12)}… recorded, ${file.checksum.slice(0, 12)}… on disk); revert the edit and add a new migration instead`
        })
      }
    }
    const appliedIds = new Set(applied.map((row) => row.id))
    const pending = files.filter((f) => !appliedIds.has(f.id))
    const last = Arr.last(Arr.sort(applied, byId))
    if (Option.isSome(last) && pending.length > 0 && pending[0]!.id < last.value.id) {
      return yield* new MigrationError({
        reason: "out-of-order",
        file: pending[0]!.file,
        detail: `is not applied but ${fileName(last.value.id, last.value.name)} already is; renumber it above ${last.value.id}`
      })
    }
    return pending
  })

/** 1-based line of a 1-based character position, for pointing at the failing statement of a file. */
const lineOf = (text: string, position: number): number => text.slice(0, Math.max(0, position - 1)).split("\n").length

const applyFailed = (file: MigrationFile, cause: SqlError): MigrationError => {
  const inner = cause.cause
  const position =
    Predicate.hasProperty(inner, "position") && typeof inner.position === "string" ? Number(inner.position) : Number.NaN
  const where = Number.isFinite(position) ? ` at line ${lineOf(file.sql, position)}` : ""
  return new MigrationError({
    reason: "apply-failed",
    file: file.file,
    detail: `failed${where}, rolled back: ${describeCause(cause)}`,
    cause
  })
}

/**
 * Apply the pending migrations of `options.directory`. A second run applies nothing; drift fails with a
 * `MigrationError` naming the file before any file is applied. Migration files must not contain their own
 * `BEGIN`/`COMMIT`: each already runs inside a transaction.
 */
export const run = Effect.fn("Migrations.run")(function* (options: Options) {
  const table = options.table ?? "schema_migrations"
  if (!/^[a-z_][a-z0-9_]*$/.test(table)) {
    return yield* new MigrationError({ reason: "database", file: table, detail: "table name must be a lowercase SQL identifier" })
  }
  const files = yield* load(options.directory)
  const sql = yield* SqlClient.SqlClient
  const databaseError = (cause: SqlError) =>
    new MigrationError({ reason: "database", file: table, detail: describeCause(cause), cause })

  // Transaction-scoped, so it is released by COMMIT/ROLLBACK even if the process dies; the key is per table.
  const lock = sql`SELECT pg_advisory_xact_lock(hashtext(${`livermore.migrations.${table}`}))`
  const readApplied = sql<AppliedRow>`SELECT id, name, checksum FROM ${sql(table)} ORDER BY id`

  const pending = yield* Effect.gen(function* () {
    yield* lock
    yield* sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (
      id         integer PRIMARY KEY,
      name       text NOT NULL,
      checksum   text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`
    return yield* verify(files, yield* readApplied)
  }).pipe(sql.withTransaction, Effect.catchTag("SqlError", (e) => Effect.fail(databaseError(e))))

  const pendingIds = new Set(pending.map((m) => m.id))
  const applied: Array<MigrationSummary & { readonly durationMs: number }> = []
  const skipped: Array<MigrationSummary> = files.filter((f) => !pendingIds.has(f.id)).map(summary)

  for (const file of pending) {
    const outcome = yield* Effect.gen(function* () {
      yield* lock.pipe(Effect.catchTag("SqlError", (e) => Effect.fail(databaseError(e))))
      const stillPending = yield* verify(
        files,
        yield* readApplied.pipe(Effect.catchTag("SqlError", (e) => Effect.fail(databaseError(e))))
      )
      if (!stillPending.some((m) => m.id === file.id)) return "skipped" as const
      const started = yield* Clock.currentTimeMillis
      yield* sql.unsafe(file.sql).pipe(Effect.catchTag("SqlError", (e) => Effect.fail(applyFailed(file, e))))
      yield* sql`INSERT INTO ${sql(table)} (id, name, checksum) VALUES (${file.id}, ${file.name}, ${file.checksum})`.pipe(
        Effect.catchTag("SqlError", (e) => Effect.fail(databaseError(e)))
      )
      return (yield* Clock.currentTimeMillis) - started
    }).pipe(
      sql.withTransaction,
      // BEGIN/COMMIT themselves failing.
      Effect.catchTag("SqlError", (e) => Effect.fail(databaseError(e))),
      Effect.withSpan("Migrations.apply", { attributes: { file: file.file } })
    )
    if (outcome === "skipped") skipped.push(summary(file))
    else applied.push({ ...summary(file), durationMs: outcome })
  }

  const report: MigrationReport = { applied, skipped: Arr.sort(skipped, byId) }
  return report
})

/** Migrate at startup: fails the layer (and so the app) on any `MigrationError`, logs what was applied. */
export const layer = (
  options: Options
): Layer.Layer<never, MigrationError, SqlClient.SqlClient | FileSystem.FileSystem | Path.Path> =>
  Layer.effectDiscard(
    run(options).pipe(
      Effect.tap((report) =>
        Effect.logInfo(
          report.applied.length === 0
            ? `Migrations: up to date (${report.skipped.length} applied)`
            : `Migrations: applied ${report.applied.map((m) => m.file).join(", ")}`
        )
      )
    )
  )
