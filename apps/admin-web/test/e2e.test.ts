/**
 * The admin web UI in a real headless Chromium (Debian's `chromium`, driven by playwright-core) against a real node:
 * the UI built by Vite and served at /admin, a token made by `livermore admin-token create`, a node waiting idle for
 * `sim_binance` (connected from the UI) against the exchange simulator over real sockets, real Postgres and Redis. Screenshots of each
 * page go to `test-output/` (not committed).
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { ExchangeSim } from "@livermore/exchange-sim"
import { Config, Effect, Exit, Scope } from "effect"
import { randomUUID } from "node:crypto"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { type Browser, chromium, type Page } from "playwright-core"
import { build } from "vite"
import {
  baseEnv,
  collect,
  freePort,
  type ListeningNode,
  redisUrl,
  startCommandListening,
  startListening,
  startSingle,
  testDatabase
} from "../../node/test/support.js"

const appRoot = path.resolve(import.meta.dirname, "..")
const output = path.join(appRoot, "test-output")
/** `CHROMIUM_PATH`: the browser to drive; default Debian's. */
const chromiumPath = Effect.runSync(Config.string("CHROMIUM_PATH").pipe(Config.withDefault("/usr/bin/chromium")))

const db = testDatabase("adminweb")
const dataDir = mkdtempSync(path.join(tmpdir(), "livermore-adminweb-"))
const env: NodeJS.ProcessEnv = {
  ...baseEnv(),
  DATABASE_URL: db.url,
  REDIS_URL: redisUrl,
  REDIS_KEY_PREFIX: `test:adminweb:${randomUUID()}:`,
  LIVERMORE_DATA_DIR: dataDir
}

/** How the test's nodes run: waiting idle for sim_binance, with the admin whose settings they follow. */
const nodeEnv: NodeJS.ProcessEnv = {
  ...env,
  HOST: "127.0.0.1",
  LIVERMORE_PUBLIC_IP_DISABLED: "true",
  LIVERMORE_TOP_N: "3",
  // The instance follows this admin's settings: the watchlist the Symbols page edits.
  LIVERMORE_ADMIN_EMAIL: "ops@example.com"
}

let scope: Scope.CloseableScope
let node: ListeningNode | undefined
let second: ListeningNode | undefined
let browser: Browser | undefined
let page: Page
let base = ""
let token = ""
let sim: ExchangeSim.SimHandle

const shot = (name: string) => page.screenshot({ path: path.join(output, `${name}.png`), fullPage: true })

beforeAll(async () => {
  if (!existsSync(chromiumPath)) {
    throw new Error(`No browser at ${chromiumPath}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`)
  }
  mkdirSync(output, { recursive: true })
  await build({ root: appRoot, logLevel: "warn" })
  await db.create()
  const migrated = await collect(startSingle(["migrate"], env))
  assert.strictEqual(migrated.code, 0, migrated.stderr)

  scope = await Effect.runPromise(Scope.make())
  sim = await Effect.runPromise(Scope.extend(ExchangeSim.make({ symbols: 8 }), scope))
  await db.sql("UPDATE exchanges SET rest_url = $1, ws_url = $2 WHERE name = 'sim_binance'", [sim.url, sim.wsUrl])

  const created = await collect(startSingle(["admin-token", "create", "--user", "ops@example.com", "--name", "browser e2e"], env))
  assert.strictEqual(created.code, 0, created.stderr)
  token = /Token: (lva_\S+)/.exec(created.stdout)![1]!

  const port = await freePort()
  base = `http://127.0.0.1:${port}`
  node = await startListening(["--exchange", "sim_binance"], { ...nodeEnv, PORT: String(port) })

  browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox", "--disable-dev-shm-usage"] })
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  page.on("dialog", (dialog) => void dialog.accept())
}, 180_000)

afterAll(async () => {
  await browser?.close()
  await second?.stop()
  await node?.stop()
  if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
  await db.drop()
  rmSync(dataDir, { recursive: true, force: true })
})

describe("admin web UI in Chromium", () => {
  it("refuses a wrong token with the server's reason, then signs in with the CLI's token", async () => {
    await page.goto(`${base}/admin`)
    await page.fill('input[name="token"]', `lva_${"x".repeat(43)}`)
    await page.click('button[type="submit"]')
    const alert = page.getByRole("alert")
    await alert.waitFor({ timeout: 15_000 })
    assert.include(await alert.textContent(), "Unknown admin token")
    await shot("01-sign-in-refused")

    await page.fill('input[name="token"]', token)
    await page.click('button[type="submit"]')
    await page.getByTestId("who").waitFor({ timeout: 15_000 })
    assert.include(await page.getByTestId("who").textContent(), "ops@example.com (admin)")
  }, 60_000)

  it("network: Connect starts the waiting sim_binance instance; the warmup panel reaches 100 % and the card turns active", async () => {
    await page.getByTestId("nav-network").click()
    const state = page.getByTestId("state-sim_binance")
    await state.waitFor({ timeout: 15_000 })
    // The idle node announces itself within a heartbeat; until then there is nothing to connect.
    const connect = page.getByTestId("connect-sim_binance")
    await connect.waitFor({ timeout: 30_000 })
    assert.include(await page.getByTestId("waiting-sim_binance").textContent(), "(")
    assert.strictEqual(await state.textContent(), "offline")
    await shot("02-network-waiting")
    await connect.click()

    const percent = page.getByTestId("warmup-percent-sim_binance")
    await percent.waitFor({ timeout: 30_000 })
    const deadline = Date.now() + 90_000
    let progress = (await percent.textContent()) ?? ""
    // While scanning nothing is scheduled yet, which also reads 100 %: wait for the run's end.
    while (!/ · (completed|failed) · /.test(progress) && Date.now() < deadline) {
      await page.waitForTimeout(250)
      progress = (await percent.textContent()) ?? ""
    }
    assert.match(progress, /^100% · completed · (\d+)\/\1 pairs/, node!.output().slice(-2_000))
    await shot("02-network-warmup")

    let text = await state.textContent()
    while (text !== "active" && Date.now() < deadline) {
      await page.waitForTimeout(500)
      text = await state.textContent()
    }
    assert.strictEqual(text, "active", node!.output().slice(-2_000))
    // The activity feed followed the run live: the lock taken and the warmup's end, from sim_binance.
    await page.waitForFunction(
      () => /sim_binance warmup_finished/.test(document.querySelector('[data-testid="activity"]')?.textContent ?? ""),
      undefined,
      { timeout: 15_000 }
    )
    assert.include(await page.getByTestId("activity").textContent(), "sim_binance lock_acquired")
    const card = await page.getByTestId("card-sim_binance").textContent()
    assert.include(card, "Heartbeat")
    assert.notInclude(card, "Host–")
    assert.strictEqual(await page.getByTestId("state-coinbase").textContent(), "offline")
    await shot("02-network")
  }, 120_000)

  it("exchange setup: a bad variable name is refused with its rule; a valid connection saved as default is listed", async () => {
    await page.getByRole("button", { name: "Add connection" }).click()
    const dialog = page.getByRole("dialog", { name: "Exchange setup" })
    await dialog.waitFor({ timeout: 10_000 })
    await dialog.locator('select[name="connection-exchange"]').selectOption("sim_binance")
    await dialog.locator('input[name="connection-name"]').fill("Simulator desk")
    await dialog.locator('input[name="connection-key-var"]').fill("sim_key")
    await dialog.locator('input[name="connection-secret-var"]').fill("SIM_SECRET")
    await dialog.locator('input[name="connection-default"]').check()
    await dialog.getByRole("button", { name: "Save" }).click()
    await dialog.getByRole("alert").waitFor({ timeout: 10_000 })
    assert.include(await dialog.getByRole("alert").textContent(), "uppercase letters, digits and underscores")
    await dialog.locator('input[name="connection-key-var"]').fill("SIM_KEY")
    await dialog.getByRole("button", { name: "Save" }).click()
    await dialog.waitFor({ state: "detached", timeout: 10_000 })
    const row = page.getByTestId("connection-rows").locator("tr", { hasText: "Simulator desk" })
    await row.waitFor({ timeout: 10_000 })
    const text = await row.textContent()
    assert.include(text, "SIM_KEY / SIM_SECRET")
    assert.include(text, "default")
    await shot("03-exchange-setup")
  }, 60_000)

  it("control: status and pause reach the node over the control channel; the history shows them, issued by the admin", async () => {
    await page.getByTestId("nav-control").click()
    await page.locator('select[name="instance"] option', { hasText: "Binance (simulator)" }).first().waitFor({ state: "attached", timeout: 15_000 })
    const result = page.getByTestId("command-result")
    await page.getByRole("button", { name: "Status", exact: true }).click()
    await result.waitFor({ timeout: 30_000 })
    assert.include(await result.textContent(), '"connectionState": "active"')
    await page.getByRole("button", { name: "Pause", exact: true }).click()
    await page.waitForFunction(() => document.querySelector('[data-testid="command-result"]')?.textContent?.includes('"paused": true'), undefined, { timeout: 30_000 })
    await page.getByRole("button", { name: "Resume", exact: true }).click()
    await page.waitForFunction(() => document.querySelector('[data-testid="command-result"]')?.textContent?.includes('"paused": false'), undefined, { timeout: 30_000 })
    const rows = page.getByTestId("history-rows").locator("tr")
    // The history refreshes after each command: wait for the last one (the first is Connect's start).
    await page.waitForFunction(() => /resume/.test(document.querySelector('[data-testid="history-rows"]')?.textContent ?? ""), undefined, { timeout: 15_000 })
    const text = await page.getByTestId("history-rows").textContent()
    for (const name of ["start", "status", "pause", "resume"]) assert.include(text, name)
    assert.include(await rows.first().textContent(), "ops@example.com")
    await shot("03b-control")
  }, 90_000)

  it("symbols: typed symbols are checked against the exchange and previewed; one added is followed after Apply now", async () => {
    await page.getByTestId("nav-symbols").click()
    const top = page.getByTestId("top-pool").locator("tbody tr")
    await top.first().waitFor({ timeout: 15_000 })
    assert.strictEqual(await top.count(), 3)
    assert.include(await page.getByTestId("followed-by").textContent(), "follows your settings")
    const pool = (await page.getByTestId("top-pool").textContent()) ?? ""
    const outside = sim.market.symbols.map((s) => s.binance).find((s) => !pool.includes(s))!
    const typed = `${outside.replace(/USDT$/, "").toLowerCase()}/usdt`
    await page.fill('textarea[name="symbols-input"]', `${typed}, NOPEUSDT`)
    await page.getByRole("button", { name: "Check", exact: true }).click()
    const preview = page.getByTestId("symbols-preview")
    await preview.waitFor({ timeout: 20_000 })
    const row = (await page.getByTestId(`check-${typed}`).textContent()) ?? ""
    assert.include(row, outside)
    assert.include(row, "can be added")
    assert.match(row, /USDT.*[A-E]/)
    assert.include(await page.getByTestId("check-NOPEUSDT").textContent(), "not listed by the exchange")
    await shot("08-symbols-preview")

    await page.getByRole("button", { name: "Add 1 new symbol" }).click()
    await page.getByTestId(`watched-${outside}`).waitFor({ timeout: 15_000 })
    await page.getByRole("button", { name: "Apply now (reload-settings)" }).click()
    await page.waitForFunction(
      () => (document.querySelector('[data-testid="watchlist-saved"]')?.textContent ?? "").includes("applied"),
      undefined,
      { timeout: 60_000 }
    )
    // Added symbols are warmed up before reload-settings finishes: the watched row shows its cached history.
    await page.waitForFunction(
      (symbol) => /5m [1-9]\d+ · 15m [1-9]\d+/.test(document.querySelector(`[data-testid="watched-${symbol}"]`)?.textContent ?? ""),
      outside,
      { timeout: 15_000 }
    )
    await shot("08-symbols")
    // The instance now follows four symbols: the top 3 and the watched one.
    await page.getByTestId("nav-network").click()
    await page.waitForFunction(() => document.querySelector('[data-testid="symbols-sim_binance"]')?.textContent === "4", undefined, {
      timeout: 30_000
    })
  }, 120_000)

  it("settings: form and JSON stay in sync; problems listed with their paths; a diff before saving; export and import", async () => {
    await page.getByTestId("nav-settings").click()
    const json = page.locator('textarea[name="settings-json"]')
    await page.waitForFunction(() => (document.querySelector('textarea[name="settings-json"]') as HTMLTextAreaElement | null)?.value.includes("watchlist"), undefined, {
      timeout: 15_000
    })
    const stored = JSON.parse(await json.inputValue()) as { watchlist: Record<string, Array<string>> }
    assert.strictEqual(stored.watchlist.sim_binance?.length, 1, "the Symbols page's watchlist is in the document")

    await page.selectOption('select[name="chart-timeframe"]', "4h")
    assert.strictEqual(JSON.parse(await json.inputValue()).chart.timeframe, "4h", "form → JSON")
    const edited = { ...JSON.parse(await json.inputValue()), chart: { timeframe: "4h", bars: 5 } }
    await json.fill(JSON.stringify(edited, null, 2))
    assert.strictEqual(await page.locator('input[name="chart-bars"]').inputValue(), "5", "JSON → form")
    const validation = page.getByTestId("settings-validation")
    assert.include(await validation.textContent(), "chart.bars: chart bars is a whole number from 50 to 1000")
    assert.isTrue(await page.getByRole("button", { name: "Review changes" }).isDisabled())
    await shot("09-settings-invalid")

    await page.fill('input[name="chart-bars"]', "400")
    assert.include(await validation.textContent(), "Valid; not saved yet.")
    await page.getByRole("button", { name: "Review changes" }).click()
    const diff = (await page.getByTestId("settings-diff").textContent()) ?? ""
    assert.include(diff, '-     "bars": 300')
    assert.include(diff, '+     "bars": 400')
    assert.include(diff, '+     "timeframe": "4h"')
    await shot("09-settings-diff")
    await page.getByRole("button", { name: "Save", exact: true }).click()
    await page.waitForFunction(() => (document.querySelector('[data-testid="settings-notice"]')?.textContent ?? "").includes("Settings saved"), undefined, {
      timeout: 15_000
    })
    const saved = await db.sql("SELECT settings FROM users WHERE email = 'ops@example.com'")
    assert.deepStrictEqual((saved[0] as { settings: { chart: unknown } }).settings.chart, { timeframe: "4h", bars: 400 })

    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export" }).click()])
    const exported = JSON.parse(readFileSync((await download.path())!, "utf8"))
    assert.deepStrictEqual(exported.chart, { timeframe: "4h", bars: 400 })

    const importPath = path.join(dataDir, "import.json")
    writeFileSync(importPath, JSON.stringify({ ...exported, colour: "blue" }))
    await page.setInputFiles('input[name="settings-file"]', importPath)
    await page.waitForFunction(() => (document.querySelector('[data-testid="settings-validation"]')?.textContent ?? "").includes("colour"), undefined, {
      timeout: 10_000
    })
    assert.include(await validation.textContent(), "colour: is unexpected")
    await shot("09-settings")
  }, 90_000)

  it("signals: the chart opens with the saved chart settings and shows candles with MACD-V values", async () => {
    await page.getByTestId("nav-signals").click()
    await page.waitForFunction(() => (document.querySelector('select[name="timeframe"]') as HTMLSelectElement | null)?.value === "4h", undefined, {
      timeout: 15_000
    })
    await page.locator('select[name="symbol"] option').first().waitFor({ state: "attached", timeout: 20_000 })
    const summary = page.getByTestId("chart-summary")
    await page.waitForFunction(
      () => /^(\d+) bars, (\d+) with MACD-V/.exec(document.querySelector('[data-testid="chart-summary"]')?.textContent ?? "")?.[2] !== "0" &&
        /^\d+ bars/.test(document.querySelector('[data-testid="chart-summary"]')?.textContent ?? ""),
      undefined,
      { timeout: 30_000 }
    )
    const [, bars, withValue] = /^(\d+) bars, (\d+) with MACD-V/.exec((await summary.textContent()) ?? "")!
    assert.isAbove(Number(bars), 26)
    assert.isAbove(Number(withValue), 0)
    assert.isAtLeast(await page.getByTestId("chart").locator("canvas").count(), 1)
    await shot("04-signals")
  }, 60_000)

  it("API keys: a key created in the UI is shown once and works on the public API; revoked in the UI, it gets 401", async () => {
    await page.getByTestId("nav-keys").click()
    await page.fill('input[name="key-name"]', "browser e2e key")
    await page.getByRole("button", { name: "Create key" }).click()
    const secret = (await page.getByTestId("new-key").textContent({ timeout: 15_000 }))!.trim()
    assert.match(secret, /^[0-9a-f-]{36}$/)
    await shot("05-api-key-created")

    const get = (key: string) =>
      fetch(`${base}/public/v1/exchanges`, { headers: { "x-api-key": key }, signal: AbortSignal.timeout(10_000) })
    assert.strictEqual((await get(secret)).status, 200)

    await page.getByRole("button", { name: "Done" }).click()
    const row = page.locator("tbody tr", { hasText: "browser e2e key" })
    await row.getByRole("button", { name: "Revoke" }).click()
    await row.getByRole("button", { name: "Revoke" }).waitFor({ state: "detached", timeout: 15_000 })
    assert.strictEqual((await get(secret)).status, 401)
    await shot("06-api-key-revoked")
  }, 60_000)

  it("network: Connect while another instance holds the exchange warns with the holder; only Take over moves it", async () => {
    second = await startListening(["--exchange", "sim_binance"], { ...nodeEnv, PORT: String(await freePort()) })
    await page.getByTestId("nav-network").click()
    const holder = ((await page.getByTestId("instance-sim_binance").textContent()) ?? "").trim()
    assert.notStrictEqual(holder, "–")
    // The second instance announces itself idle within a heartbeat; then Connect offers it.
    const connect = page.getByTestId("connect-sim_binance")
    await connect.waitFor({ timeout: 30_000 })
    await connect.click()
    const dialog = page.getByRole("dialog", { name: "Take over" })
    await dialog.waitFor({ timeout: 15_000 })
    assert.include(await dialog.textContent(), holder)
    assert.include(await dialog.textContent(), "active")
    await shot("11-takeover-warning")
    await dialog.getByRole("button", { name: "Cancel" }).click()
    await dialog.waitFor({ state: "detached", timeout: 5_000 })
    assert.strictEqual(((await page.getByTestId("instance-sim_binance").textContent()) ?? "").trim(), holder, "cancel changes nothing")

    await connect.click()
    await dialog.waitFor({ timeout: 15_000 })
    await dialog.getByRole("button", { name: "Take over" }).click()
    await page.waitForFunction(
      (previous) =>
        (document.querySelector('[data-testid="instance-sim_binance"]')?.textContent ?? previous).trim() !== previous &&
        document.querySelector('[data-testid="state-sim_binance"]')?.textContent === "active",
      holder,
      { timeout: 90_000 }
    )
    assert.include(second.output(), "sim_binance", "the second instance serves it now")
    await shot("11-takeover")
  }, 150_000)

  it("logs: the node's lifecycle events, filtered by type", async () => {
    await page.getByTestId("nav-logs").click()
    const rows = page.getByTestId("log-rows").locator("tr")
    await rows.first().waitFor({ timeout: 15_000 })
    assert.isAbove(await rows.count(), 2)
    await page.selectOption('select[name="type"]', "lock_acquired")
    await page.waitForFunction(() =>
      [...document.querySelectorAll('[data-testid="log-rows"] tr td:nth-child(3)')].every((td) => td.textContent === "lock_acquired")
    )
    assert.isAtLeast(await rows.count(), 1)
    await shot("07-logs")
  }, 60_000)
})

/**
 * Alerts need a market that moves: `livermore demo` runs the simulator inside the node at 300× (a 5m candle a
 * second) and scripts BTCUSDT to crash through −150 and −200 and recover, so real alerts fire within seconds — on
 * its own Postgres database and Redis namespace, over the simulator's real sockets.
 */
describe("admin web UI in Chromium: alerts from a moving market", () => {
  const demoDb = testDatabase("adminwebdemo")
  const demoEnv: NodeJS.ProcessEnv = {
    ...baseEnv(),
    DATABASE_URL: demoDb.url,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: `test:adminweb-demo:${randomUUID()}:`,
    LIVERMORE_DATA_DIR: dataDir,
    LIVERMORE_PUBLIC_IP_DISABLED: "true"
  }
  let demo: ListeningNode | undefined
  let demoPage: Page
  let demoToken = ""

  beforeAll(async () => {
    await demoDb.create()
    const migrated = await collect(startSingle(["migrate"], demoEnv))
    assert.strictEqual(migrated.code, 0, migrated.stderr)
    const created = await collect(startSingle(["admin-token", "create", "--user", "desk@example.com"], demoEnv))
    assert.strictEqual(created.code, 0, created.stderr)
    demoToken = /Token: (lva_\S+)/.exec(created.stdout)![1]!
    const port = await freePort()
    demo = await startCommandListening(["demo", "--symbols", "8"], { ...demoEnv, PORT: String(port), HOST: "127.0.0.1" })
    demoPage = await browser!.newPage({ viewport: { width: 1280, height: 1000 } })
    await demoPage.goto(`http://127.0.0.1:${port}/admin`)
    await demoPage.fill('input[name="token"]', demoToken)
    await demoPage.click('button[type="submit"]')
    await demoPage.getByTestId("who").waitFor({ timeout: 15_000 })
  }, 120_000)

  afterAll(async () => {
    await demoPage?.close()
    await demo?.stop()
    await demoDb.drop()
  })

  it("signals: an alert arrives in the live feed, lands in the history, and is marked on the chart", async () => {
    await demoPage.getByTestId("nav-signals").click()
    await demoPage.locator('select[name="exchange"] option[value="sim_binance"]').waitFor({ state: "attached", timeout: 60_000 })
    await demoPage.locator('select[name="symbol"] option[value="BTCUSDT"]').waitFor({ state: "attached", timeout: 30_000 })
    await demoPage.selectOption('select[name="symbol"]', "BTCUSDT")
    await demoPage.selectOption('select[name="timeframe"]', "5m")
    const live = demoPage.getByTestId("live-alerts")
    await demoPage.waitForFunction(
      () => /BTCUSDT 5m level_-\d+/.test(document.querySelector('[data-testid="live-alerts"]')?.textContent ?? ""),
      undefined,
      { timeout: 90_000 }
    )
    assert.match((await live.textContent()) ?? "", /sim_binance BTCUSDT 5m level_-(150|200) at [\d.]+ \(MACD-V -\d+\.\d\)/)
    // The chart reloads every 5 s: its alerts are the stored ones among its bars, drawn as markers.
    await demoPage.waitForFunction(
      () => /, [1-9]\d* alerts$/.test(document.querySelector('[data-testid="chart-summary"]')?.textContent ?? ""),
      undefined,
      { timeout: 30_000 }
    )
    // The history, filtered to the series and the first level crossing: only such rows remain.
    await demoPage.selectOption('select[name="history-symbol"]', "BTCUSDT")
    await demoPage.selectOption('select[name="history-timeframe"]', "5m")
    await demoPage.fill('input[name="history-label"]', "level_-150")
    await demoPage.waitForFunction(
      () => {
        const rows = [...document.querySelectorAll('[data-testid="alert-rows"] tr')]
        return rows.length > 0 && rows.every((row) => /BTCUSDT5mlevel_-150/.test(row.textContent ?? ""))
      },
      undefined,
      { timeout: 15_000 }
    )
    await demoPage.screenshot({ path: path.join(output, "10-signals-alerts.png"), fullPage: true })

    // The demo's Symbols page checks against the demo's own simulator, not the row's stored address.
    await demoPage.getByTestId("nav-symbols").click()
    await demoPage.getByTestId("top-pool").locator("tbody tr").first().waitFor({ timeout: 15_000 })
    await demoPage.fill('textarea[name="symbols-input"]', "eth/usdt")
    await demoPage.getByRole("button", { name: "Check", exact: true }).click()
    const checked = demoPage.getByTestId("check-eth/usdt")
    await checked.waitFor({ timeout: 20_000 })
    assert.match((await checked.textContent()) ?? "", /ETHUSDT(can be added|already followed \(top N\))/)
  }, 150_000)
})

