/**
 * The Prometheus renderer over real Effect metrics and hand-built metric pairs, every output checked by a small
 * parser of text format 0.0.4 (below). Effect's registry is global to the process: each test uses its own names.
 */
import { HttpLayerRouter } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric, MetricBoundaries, MetricKey, MetricLabel, MetricPair, MetricState, Option } from "effect"
import { contentType, MetricsRoute, render, renderSnapshot } from "../src/Prometheus.js"

// ---------------------------------------------------------------------------------------------------------------
// A parser of the text format, strict enough to reject what Prometheus would, plus the histogram invariants.

interface Sample {
  readonly name: string
  readonly labels: ReadonlyMap<string, string>
  readonly value: number
}

interface Family {
  type: string | undefined
  help: string | undefined
  readonly samples: Array<Sample>
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*"
const HELP_LINE = new RegExp(`^# HELP (${NAME}) ((?:[^\\\\]|\\\\[\\\\n])*)$`)
const TYPE_LINE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`)
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`
const VALUE = "[+-]?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?Inf|NaN"
const SAMPLE_LINE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*,?)?\\})? (${VALUE})(?: -?[0-9]+)?$`)
const ONE_LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)",?/y

const unescapeText = (text: string): string =>
  text.replace(/\\(\\|"|n)/g, (_, c: string) => (c === "n" ? "\n" : c))

const parseValue = (text: string): number =>
  text.endsWith("Inf") ? (text.startsWith("-") ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY) : Number(text)

const suffixes = { histogram: ["_bucket", "_sum", "_count"], summary: ["_sum", "_count"] } as const

const seriesKey = (labels: ReadonlyMap<string, string>, without: string): string =>
  JSON.stringify([...labels].filter(([k]) => k !== without).sort(([a], [b]) => (a < b ? -1 : 1)))

/** Parse exposition text into families, throwing on the first violation of the format. */
const parse = (text: string): Map<string, Family> => {
  if (text !== "" && !text.endsWith("\n")) throw new Error("the text must end with a line feed")
  const families = new Map<string, Family>()
  const closed = new Set<string>()
  const seen = new Set<string>()
  let current: string | undefined
  const enter = (name: string, line: number): Family => {
    if (current !== name) {
      if (closed.has(name)) throw new Error(`line ${line}: ${name} appears again after another metric`)
      if (current !== undefined) closed.add(current)
      current = name
    }
    const family = families.get(name) ?? { type: undefined, help: undefined, samples: [] }
    families.set(name, family)
    return family
  }
  const familyOf = (sample: string): string => {
    for (const [name, family] of families) {
      if (name === sample) return name
      const allowed = family.type === "histogram" || family.type === "summary" ? suffixes[family.type] : []
      if (allowed.some((suffix) => sample === name + suffix)) return name
    }
    return sample
  }
  const lines = text === "" ? [] : text.slice(0, -1).split("\n")
  lines.forEach((line, index) => {
    const n = index + 1
    const help = HELP_LINE.exec(line)
    const type = TYPE_LINE.exec(line)
    if (line.startsWith("# HELP ")) {
      if (help === null) throw new Error(`line ${n}: malformed HELP: ${line}`)
      const family = enter(help[1]!, n)
      if (family.help !== undefined) throw new Error(`line ${n}: second HELP for ${help[1]}`)
      family.help = unescapeText(help[2]!)
    } else if (line.startsWith("# TYPE ")) {
      if (type === null) throw new Error(`line ${n}: malformed TYPE: ${line}`)
      const family = enter(type[1]!, n)
      if (family.type !== undefined) throw new Error(`line ${n}: second TYPE for ${type[1]}`)
      if (family.samples.length > 0) throw new Error(`line ${n}: TYPE after samples of ${type[1]}`)
      family.type = type[2]!
    } else if (line.startsWith("#")) {
      // a comment
    } else {
      const sample = SAMPLE_LINE.exec(line)
      if (sample === null) throw new Error(`line ${n}: malformed sample: ${line}`)
      const labels = new Map<string, string>()
      const body = sample[2] ?? ""
      ONE_LABEL.lastIndex = 0
      while (ONE_LABEL.lastIndex < body.length) {
        const label = ONE_LABEL.exec(body)
        if (label === null) throw new Error(`line ${n}: malformed labels: ${body}`)
        if (labels.has(label[1]!)) throw new Error(`line ${n}: label ${label[1]} twice`)
        labels.set(label[1]!, unescapeText(label[2]!))
      }
      const name = sample[1]!
      const identity = `${name}${seriesKey(labels, "")}`
      if (seen.has(identity)) throw new Error(`line ${n}: duplicate sample ${identity}`)
      seen.add(identity)
      const value = parseValue(sample[3]!)
      const family = enter(familyOf(name), n)
      if (family.type === "counter" && !(value >= 0)) throw new Error(`line ${n}: counter value ${sample[3]}`)
      family.samples.push({ name, labels, value })
    }
  })
  for (const [name, family] of families) {
    if (family.type === "histogram") checkHistogram(name, family)
  }
  return families
}

/** Per series: buckets ascending in `le`, counts non-decreasing, ending at +Inf, with `_count` = +Inf and `_sum`. */
const checkHistogram = (name: string, family: Family): void => {
  const series = new Map<string, { buckets: Array<[number, number]>; count?: number; sum?: number }>()
  for (const sample of family.samples) {
    const key = seriesKey(sample.labels, "le")
    const entry = series.get(key) ?? { buckets: [] }
    series.set(key, entry)
    if (sample.name === `${name}_bucket`) {
      const le = sample.labels.get("le")
      if (le === undefined) throw new Error(`${name}: bucket without le`)
      entry.buckets.push([parseValue(le), sample.value])
    } else if (sample.name === `${name}_count`) entry.count = sample.value
    else if (sample.name === `${name}_sum`) entry.sum = sample.value
    else throw new Error(`${name}: unexpected sample ${sample.name} in a histogram`)
  }
  for (const [key, entry] of series) {
    entry.buckets.forEach(([le, count], i) => {
      const previous = entry.buckets[i - 1]
      if (previous !== undefined && !(le > previous[0] && count >= previous[1])) {
        throw new Error(`${name}${key}: bucket le=${le} count=${count} after le=${previous[0]} count=${previous[1]}`)
      }
    })
    const last = entry.buckets[entry.buckets.length - 1]
    if (last === undefined || last[0] !== Number.POSITIVE_INFINITY) throw new Error(`${name}${key}: no +Inf bucket`)
    if (entry.count !== last[1]) throw new Error(`${name}${key}: _count ${entry.count} is not the +Inf bucket ${last[1]}`)
    if (entry.sum === undefined) throw new Error(`${name}${key}: no _sum`)
  }
}

// ---------------------------------------------------------------------------------------------------------------

/** Render only this test's metrics (names starting with `prefix`) from the global registry. */
const renderOwn = (prefix: string) =>
  Effect.map(Metric.snapshot, (pairs) => render(pairs.filter((pair) => pair.metricKey.name.startsWith(prefix))))

const linesOf = (text: string): ReadonlyArray<string> => text.split("\n").filter((line) => line !== "")

const value = (family: Family | undefined, labels: Record<string, string>, name?: string): number | undefined => {
  const want = JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)))
  return family?.samples.find((s) => (name === undefined || s.name === name) && seriesKey(s.labels, "") === want)?.value
}

describe("Prometheus.render", () => {
  it.effect("counters: number and bigint counts exactly; a non-incremental counter is a gauge", () =>
    Effect.gen(function* () {
      const requests = Metric.counter("t_counter_requests_total", { description: "Requests", incremental: true })
      const big = Metric.counter("t_counter_big_total", { description: "Big", bigint: true, incremental: true })
      const upDown = Metric.counter("t_counter_updown", { description: "Up and down" })
      yield* Metric.increment(Metric.tagged(requests, "route", "a"))
      yield* Metric.incrementBy(Metric.tagged(requests, "route", "a"), 2)
      yield* Metric.incrementBy(Metric.tagged(requests, "route", "a"), -5) // ignored: incremental
      yield* Metric.incrementBy(big, 2n ** 70n + 1n)
      yield* Metric.incrementBy(upDown, 4)
      yield* Metric.incrementBy(upDown, -6)

      const text = yield* renderOwn("t_counter_")
      assert.deepStrictEqual(linesOf(text), [
        "# HELP t_counter_big_total Big",
        "# TYPE t_counter_big_total counter",
        "t_counter_big_total 1180591620717411303425",
        "# HELP t_counter_requests_total Requests",
        "# TYPE t_counter_requests_total counter",
        't_counter_requests_total{route="a"} 3',
        "# HELP t_counter_updown Up and down",
        "# TYPE t_counter_updown gauge",
        "t_counter_updown -2"
      ])
      const parsed = parse(text)
      assert.strictEqual(value(parsed.get("t_counter_requests_total"), { route: "a" }), 3)
    })
  )

  it.effect("gauges with tags: labels sorted by name, series sorted, one HELP and TYPE", () =>
    Effect.gen(function* () {
      const state = Metric.gauge("t_gauge_state", { description: "State" })
      // Tags applied in different orders on different series: rendered the same way.
      yield* Metric.set(Metric.tagged(Metric.tagged(state, "state", "b"), "exchange", "x"), 1)
      yield* Metric.set(Metric.tagged(Metric.tagged(state, "exchange", "x"), "state", "a"), 0)
      yield* Metric.set(Metric.tagged(Metric.tagged(state, "exchange", "w"), "state", "a"), 0.25)
      yield* Metric.set(Metric.gauge("t_gauge_nan"), Number.NaN)
      yield* Metric.set(Metric.gauge("t_gauge_inf"), Number.NEGATIVE_INFINITY)

      const text = yield* renderOwn("t_gauge_")
      assert.deepStrictEqual(linesOf(text), [
        "# TYPE t_gauge_inf gauge",
        "t_gauge_inf -Inf",
        "# TYPE t_gauge_nan gauge",
        "t_gauge_nan NaN",
        "# HELP t_gauge_state State",
        "# TYPE t_gauge_state gauge",
        't_gauge_state{exchange="w",state="a"} 0.25',
        't_gauge_state{exchange="x",state="a"} 0',
        't_gauge_state{exchange="x",state="b"} 1'
      ])
      const parsed = parse(text)
      assert.isTrue(Number.isNaN(parsed.get("t_gauge_nan")?.samples[0]?.value))
      assert.strictEqual(value(parsed.get("t_gauge_state"), { exchange: "x", state: "b" }), 1)
    })
  )

  it.effect("histograms: cumulative buckets through +Inf, then _sum and _count", () =>
    Effect.gen(function* () {
      const latency = Metric.histogram("t_hist_seconds", MetricBoundaries.fromIterable([1, 2, 5]), "Latency")
      const tagged = Metric.tagged(latency, "exchange", "x")
      for (const observation of [0.5, 1, 1.5, 3, 10]) yield* Metric.update(tagged, observation)
      yield* Metric.update(Metric.tagged(latency, "exchange", "y"), 2)

      const text = yield* renderOwn("t_hist_")
      assert.deepStrictEqual(linesOf(text), [
        "# HELP t_hist_seconds Latency",
        "# TYPE t_hist_seconds histogram",
        't_hist_seconds_bucket{exchange="x",le="1"} 2',
        't_hist_seconds_bucket{exchange="x",le="2"} 3',
        't_hist_seconds_bucket{exchange="x",le="5"} 4',
        't_hist_seconds_bucket{exchange="x",le="+Inf"} 5',
        't_hist_seconds_sum{exchange="x"} 16',
        't_hist_seconds_count{exchange="x"} 5',
        't_hist_seconds_bucket{exchange="y",le="1"} 0',
        't_hist_seconds_bucket{exchange="y",le="2"} 1',
        't_hist_seconds_bucket{exchange="y",le="5"} 1',
        't_hist_seconds_bucket{exchange="y",le="+Inf"} 1',
        't_hist_seconds_sum{exchange="y"} 2',
        't_hist_seconds_count{exchange="y"} 1'
      ])
      parse(text) // checks cumulativity, +Inf and _count per series
    })
  )

  it.effect("escapes label values (backslash, quote, line feed) and HELP text; the parser gets them back", () =>
    Effect.gen(function* () {
      const nasty = 'a\\b"c\nd'
      const help = "Help with a \\ backslash\nand a second line"
      yield* Metric.set(Metric.tagged(Metric.gauge("t_escape_gauge", { description: help }), "v", nasty), 1)

      const text = yield* renderOwn("t_escape_")
      assert.deepStrictEqual(linesOf(text), [
        "# HELP t_escape_gauge Help with a \\\\ backslash\\nand a second line",
        "# TYPE t_escape_gauge gauge",
        't_escape_gauge{v="a\\\\b\\"c\\nd"} 1'
      ])
      const family = parse(text).get("t_escape_gauge")
      assert.strictEqual(family?.help, help)
      assert.strictEqual(family?.samples[0]?.labels.get("v"), nasty)
    })
  )

  it.effect("one HELP and TYPE per name, even when series differ in tags or description", () =>
    Effect.gen(function* () {
      const a = Metric.counter("t_once_total", { description: "First description", incremental: true })
      const b = Metric.counter("t_once_total", { description: "Another description", incremental: true })
      for (const exchange of ["c", "a", "b"]) yield* Metric.increment(Metric.tagged(a, "exchange", exchange))
      yield* Metric.increment(Metric.tagged(b, "exchange", "d"))

      const text = yield* renderOwn("t_once_")
      const lines = linesOf(text)
      assert.strictEqual(lines.filter((line) => line.startsWith("# HELP t_once_total ")).length, 1)
      assert.strictEqual(lines.filter((line) => line.startsWith("# TYPE t_once_total ")).length, 1)
      assert.deepStrictEqual(lines.slice(2), [
        't_once_total{exchange="a"} 1',
        't_once_total{exchange="b"} 1',
        't_once_total{exchange="c"} 1',
        't_once_total{exchange="d"} 1'
      ])
      assert.strictEqual(parse(text).get("t_once_total")?.samples.length, 4)
    })
  )

  it("summaries, frequencies, bigint gauges and odd names render as valid text", () => {
    const summary = MetricPair.unsafeMake(
      MetricKey.taggedWithLabels(
        MetricKey.summary({ name: "t_pairs_summary", maxAge: "1 minute", maxSize: 10, error: 0.01, quantiles: [0.5, 0.99] }),
        [MetricLabel.make("quantile", "mine")]
      ),
      MetricState.summary({ error: 0.01, quantiles: [[0.5, Option.some(3)], [0.99, Option.none()]], count: 2, min: 1, max: 5, sum: 6 })
    )
    const frequency = MetricPair.unsafeMake(
      MetricKey.frequency("t_pairs_errors", { description: "Errors by code" }),
      MetricState.frequency(new Map([["timeout", 2], ["refused", 1]]))
    )
    const bigGauge = MetricPair.unsafeMake(MetricKey.gauge("t_pairs_big", { bigint: true }), MetricState.gauge(-(2n ** 65n)))
    const oddName = MetricPair.unsafeMake(
      MetricKey.taggedWithLabels(MetricKey.gauge("t.pairs-odd name"), [MetricLabel.make("bad-label", "x")]),
      MetricState.gauge(1)
    )
    const text = render([summary, frequency, bigGauge, oddName])
    assert.deepStrictEqual(linesOf(text), [
      "# TYPE t_pairs_big gauge",
      "t_pairs_big -36893488147419103232",
      "# HELP t_pairs_errors Errors by code",
      "# TYPE t_pairs_errors counter",
      't_pairs_errors{key="refused"} 1',
      't_pairs_errors{key="timeout"} 2',
      "# TYPE t_pairs_odd_name gauge",
      't_pairs_odd_name{bad_label="x"} 1',
      "# TYPE t_pairs_summary summary",
      't_pairs_summary{exported_quantile="mine",quantile="0.5"} 3',
      't_pairs_summary{exported_quantile="mine",quantile="0.99"} NaN',
      't_pairs_summary_sum{exported_quantile="mine"} 6',
      't_pairs_summary_count{exported_quantile="mine"} 2'
    ])
    assert.strictEqual(parse(text).size, 4)
  })

  it("a name used by two types, or the same labels twice, keeps one and says why in a comment", () => {
    const counterKey = MetricKey.counter("t_clash", { incremental: true })
    const tagged = (key: MetricKey.MetricKey.Counter<number>, tags: ReadonlyArray<readonly [string, string]>) =>
      MetricKey.taggedWithLabels(key, tags.map(([k, v]) => MetricLabel.make(k, v)))
    const pairs = [
      MetricPair.unsafeMake(tagged(counterKey, [["a", "1"], ["b", "2"]]), MetricState.counter(1)),
      MetricPair.unsafeMake(tagged(counterKey, [["b", "2"], ["a", "1"]]), MetricState.counter(2)),
      MetricPair.unsafeMake(MetricKey.gauge("t_clash"), MetricState.gauge(7))
    ]
    const text = render(pairs)
    assert.deepStrictEqual(linesOf(text), [
      "# TYPE t_clash counter",
      't_clash{a="1",b="2"} 1',
      "# skipped a duplicate series of t_clash: the same labels twice (tags applied in another order, or names equal once sanitised)",
      "# skipped a gauge series of t_clash: the name is already a counter"
    ])
    parse(text)
  })

  it.effect("the whole registry renders as valid text", () =>
    Effect.gen(function* () {
      yield* Metric.update(Metric.histogram("t_whole_seconds", MetricBoundaries.exponential({ start: 0.001, factor: 2, count: 17 })), 0.3)
      const text = yield* renderSnapshot
      const families = parse(text)
      assert.isTrue(families.has("t_whole_seconds"))
      assert.strictEqual(value(families.get("t_whole_seconds"), { le: "0.512" }, "t_whole_seconds_bucket"), 1)
      assert.strictEqual(value(families.get("t_whole_seconds"), { le: "0.256" }, "t_whole_seconds_bucket"), 0)
    })
  )
})

describe("the text-format parser used above", () => {
  const rejects = (text: string, because: RegExp) => assert.throws(() => parse(text), because)

  it("rejects what Prometheus would", () => {
    rejects('m{a="x"y"} 1\n', /malformed sample/)
    rejects('m{a="x\\q"} 1\n', /malformed sample/)
    rejects("m 1", /line feed/)
    rejects("m one\n", /malformed sample/)
    rejects("# TYPE m gauge\n# TYPE m gauge\nm 1\n", /second TYPE/)
    rejects("# HELP m a\n# HELP m b\nm 1\n", /second HELP/)
    rejects('m 1\nn 1\nm{a="1"} 2\n', /appears again/)
    rejects('m{a="1"} 1\nm{a="1"} 2\n', /duplicate sample/)
    rejects('m{a="1",a="2"} 1\n', /label a twice/)
    rejects("# TYPE m counter\nm -1\n", /counter value/)
    rejects('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', /bucket le=Infinity/)
    rejects('# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', /no \+Inf/)
    rejects('# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n', /_count 1 is not/)
    assert.strictEqual(parse('# HELP m x\\ny\n# TYPE m gauge\nm{a="b"} +Inf\n').get("m")?.help, "x\ny")
  })
})

describe("MetricsRoute", () => {
  it.scoped("GET /metrics answers 200 with the text format's content type and the registry", () =>
    Effect.gen(function* () {
      yield* Metric.set(Metric.tagged(Metric.gauge("t_route_gauge", { description: "Route" }), "exchange", "z"), 42)
      const { handler } = yield* Effect.acquireRelease(
        Effect.sync(() => HttpLayerRouter.toWebHandler(MetricsRoute, { disableLogger: true })),
        ({ dispose }) => Effect.promise(dispose)
      )
      const response = yield* Effect.promise(() => handler(new Request("http://localhost/metrics")))
      const body = yield* Effect.promise(() => response.text())
      assert.strictEqual(response.status, 200)
      assert.strictEqual(response.headers.get("content-type"), contentType)
      assert.include(linesOf(body), 't_route_gauge{exchange="z"} 42')
      parse(body)
    })
  )
})
