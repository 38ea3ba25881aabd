/**
 * Settings: the signed-in admin's settings document, edited in a form or as JSON — the two kept in sync — and
 * validated as typed with the same `UserSettings` schema the server applies. Saving shows a line diff first;
 * the document can be exported to a file and imported from one. Instances follow saved settings at their next
 * `reload-settings`, which the page offers to send to every serving instance.
 */
import { Timeframe, UserSettings } from "@livermore/domain"
import { diffLines } from "diff"
import { Either } from "effect"
import { FileImport } from "../FileImport.js"
import { useCallback, useEffect, useState } from "react"
import { useCall, useStream } from "../hooks.js"
import type { AdminRuntime } from "../rpc.js"

type Doc = Record<string, unknown>

/** Stable text for a document: keys sorted at every level, so the diff shows changes, not reorderings. */
const pretty = (value: unknown): string =>
  JSON.stringify(
    value,
    (_, v: unknown) =>
      typeof v === "object" && v !== null && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v as Doc).sort(([a], [b]) => a.localeCompare(b)))
        : v,
    2
  )

const record = (value: unknown): Doc => (typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Doc) : {})

/** `doc` with `path` set to `value` (`undefined` removes the key), copying only what changes. */
const setIn = (doc: Doc, path: ReadonlyArray<string>, value: unknown): Doc => {
  const [head, ...rest] = path
  if (head === undefined) return doc
  const next = { ...doc }
  if (rest.length === 0) {
    if (value === undefined) delete next[head]
    else next[head] = value
  } else {
    next[head] = setIn(record(doc[head]), rest, value)
  }
  return next
}

/** The line diff of two documents, each run of lines marked `+ `, `- ` or two spaces, keyed by its place. */
const diffParts = (before: unknown, after: unknown) => {
  let line = 0
  return diffLines(`${pretty(before)}\n`, `${pretty(after)}\n`).map((part) => {
    const kind = part.added ? "added" : part.removed ? "removed" : ""
    const mark = part.added ? "+ " : part.removed ? "- " : "  "
    const lines = part.value.replace(/\n$/, "").split("\n")
    const key = `${kind}${line}`
    line += lines.length
    return { key, kind, text: lines.map((l) => `${mark}${l}\n`).join("") }
  })
}

export const SettingsPage = ({ runtime }: { runtime: AdminRuntime }) => {
  const { run, error, busy } = useCall(runtime)
  const { value: cards } = useStream(runtime, (admin) => admin.WatchNetwork())
  const exchanges = (cards ?? []).map((c) => c.name)
  /** What the server holds. */
  const [stored, setStored] = useState<unknown>(null)
  const [storedIssues, setStoredIssues] = useState<ReadonlyArray<UserSettings.Issue>>([])
  /** The JSON editor's text: the source of truth while editing; the form reads and writes it. */
  const [text, setText] = useState("")
  const [reviewing, setReviewing] = useState(false)
  const [notice, setNotice] = useState<string | null>(null)

  const load = useCallback(async () => {
    const found = await run((admin) => admin.GetSettings())
    if (found === null) return
    setStored(found.document)
    setStoredIssues(found.issues)
    setText(pretty(found.document))
  }, [run])

  useEffect(() => {
    void load()
  }, [load])

  let parsed: Either.Either<unknown, string>
  try {
    parsed = Either.right(JSON.parse(text) as unknown)
  } catch (cause) {
    parsed = Either.left(cause instanceof Error ? cause.message : String(cause))
  }
  const doc = Either.isRight(parsed) ? parsed.right : null
  const validation = doc === null ? null : UserSettings.validate(doc)
  const issues = validation !== null && Either.isLeft(validation) ? validation.left : []
  const valid = validation !== null && Either.isRight(validation)
  const changed = doc !== null && pretty(doc) !== pretty(stored)

  const edit = (path: ReadonlyArray<string>, value: unknown) => {
    if (doc === null) return
    setText(pretty(setIn(record(doc), path, value)))
    setNotice(null)
    setReviewing(false)
  }
  const form = record(doc)
  const chart = record(form.chart)
  const topN = record(form.topN)
  const watchlist = record(form.watchlist)

  // A refusal by the server (SettingsInvalid) lists every issue in the error line.
  const save = async () => {
    const saved = await run((admin) => admin.SaveSettings({ document: doc }))
    if (saved === null) return
    setStored(saved.document)
    setStoredIssues(saved.issues)
    setText(pretty(saved.document))
    setReviewing(false)
    setNotice("Settings saved. Instances apply them at their next reload-settings.")
  }

  const served = (cards ?? []).flatMap((c) => (c.status === null ? [] : [c.status.instanceId]))
  const reloadAll = async () => {
    let done = 0
    for (const instanceId of served) {
      const result = await run((admin) => admin.SendCommand({ instanceId, command: { _tag: "reload-settings" } }))
      if (result !== null) done++
    }
    setNotice(`reload-settings sent: ${done} of ${served.length} instances applied the settings.`)
  }

  const exportFile = () => {
    const blob = new Blob([`${pretty(stored)}\n`], { type: "application/json" })
    const url = URL.createObjectURL(blob)
    const link = document.createElement("a")
    link.href = url
    link.download = "livermore-settings.json"
    link.click()
    URL.revokeObjectURL(url)
  }
  const importFile = async (file: File) => {
    const content = await file.text()
    try {
      setText(pretty(JSON.parse(content) as unknown))
      setNotice(`Imported ${file.name}: review the changes, then save.`)
    } catch {
      setText(content)
      setNotice(`Imported ${file.name}, which is not valid JSON.`)
    }
    setReviewing(false)
  }

  return (
    <section>
      <h2>Settings</h2>
      {storedIssues.length > 0 && (
        <div className="error" role="alert" data-testid="stored-issues">
          The stored settings are invalid (edited outside this page); instances refuse them until fixed:
          <ul>
            {storedIssues.map((i) => (
              <li key={`${i.path}${i.message}`}>
                <code>{i.path}</code>: {i.message}
              </li>
            ))}
          </ul>
        </div>
      )}
      {error !== null && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {notice !== null && (
        <div className="notice" role="status" data-testid="settings-notice">
          {notice}{" "}
          {notice.startsWith("Settings saved") && served.length > 0 && (
            <button type="button" onClick={() => void reloadAll()} disabled={busy}>
              Apply now on {served.length} {served.length === 1 ? "instance" : "instances"}
            </button>
          )}
        </div>
      )}
      <div className="columns">
        <fieldset className="stack" disabled={doc === null} data-testid="settings-form">
          <legend>Form</legend>
          <label>
            Chart timeframe{" "}
            <select name="chart-timeframe" value={String(chart.timeframe ?? "1h")} onChange={(e) => edit(["chart", "timeframe"], e.target.value)}>
              {Timeframe.all.map((tf) => (
                <option key={tf} value={tf}>
                  {tf}
                </option>
              ))}
            </select>
          </label>
          <label>
            Chart bars{" "}
            <input
              name="chart-bars"
              type="number"
              value={String(chart.bars ?? "")}
              onChange={(e) => edit(["chart", "bars"], e.target.value === "" ? undefined : Number(e.target.value))}
            />
          </label>
          {exchanges.map((name) => (
            <div key={name} className="exchange-settings">
              <strong>{name}</strong>
              <label>
                Top N{" "}
                <input
                  name={`topn-${name}`}
                  type="number"
                  placeholder="instance default (LIVERMORE_TOP_N)"
                  value={topN[name] === undefined ? "" : String(topN[name])}
                  onChange={(e) => edit(["topN", name], e.target.value === "" ? undefined : Number(e.target.value))}
                />
              </label>
              <label>
                Watchlist{" "}
                <input
                  name={`watchlist-${name}`}
                  placeholder="none (edit on the Symbols page, where symbols are checked)"
                  value={Array.isArray(watchlist[name]) ? (watchlist[name] as Array<unknown>).join(", ") : ""}
                  onChange={(e) => {
                    const symbols = e.target.value.split(",").map((s) => s.trim()).filter((s) => s !== "")
                    edit(["watchlist", name], symbols.length === 0 ? undefined : symbols)
                  }}
                />
              </label>
            </div>
          ))}
        </fieldset>
        <fieldset className="stack">
          <legend>JSON</legend>
          <textarea
            name="settings-json"
            rows={18}
            spellCheck={false}
            className="mono"
            value={text}
            onChange={(e) => {
              setText(e.target.value)
              setReviewing(false)
              setNotice(null)
            }}
          />
        </fieldset>
      </div>
      <div data-testid="settings-validation">
        {Either.isLeft(parsed) && <p className="error">JSON: {parsed.left}</p>}
        {issues.length > 0 && (
          <ul className="error">
            {issues.map((i) => (
              <li key={`${i.path}${i.message}`}>
                <code>{i.path}</code>: {i.message}
              </li>
            ))}
          </ul>
        )}
        {valid && <p className="ok">{changed ? "Valid; not saved yet." : "Valid; saved."}</p>}
      </div>
      <div className="inline">
        <button type="button" disabled={!valid || !changed || busy} onClick={() => setReviewing(true)}>
          Review changes
        </button>
        <button type="button" onClick={exportFile} disabled={stored === null}>
          Export
        </button>
        <FileImport label="Import" name="settings-file" accept=".json,application/json" onFile={(file) => void importFile(file)} />
        <button type="button" onClick={() => setText(pretty(stored))} disabled={!changed}>
          Discard changes
        </button>
      </div>
      {reviewing && doc !== null && (
        <div className="diff" data-testid="settings-diff">
          <h3>Changes to save</h3>
          <pre>
            {diffParts(stored, doc).map((part) => (
              <span key={part.key} className={part.kind}>
                {part.text}
              </span>
            ))}
          </pre>
          <button type="button" onClick={() => void save()} disabled={busy}>
            Save
          </button>
          <button type="button" onClick={() => setReviewing(false)}>
            Back to editing
          </button>
        </div>
      )}
    </section>
  )
}
