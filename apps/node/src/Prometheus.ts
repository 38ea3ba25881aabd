/**
 * Prometheus text exposition (format 0.0.4) of Effect's metric registry, and `GET /metrics`, which serves it.
 * Written here rather than taken from OpenTelemetry: `@effect/opentelemetry` has no Prometheus exporter.
 */
import { HttpLayerRouter, HttpServerResponse } from "@effect/platform"
import { Effect, Metric, MetricKeyType, type MetricPair, MetricState, Option } from "effect"

/** The content type of the text format, version 0.0.4. */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

/** The Prometheus metric types this renderer emits. */
export type MetricType = "counter" | "gauge" | "histogram" | "summary"

interface Sample {
  /** Appended to the family name: `""`, `_bucket`, `_sum` or `_count`. */
  readonly suffix: string
  /** The extra label of this sample (`le`, `quantile` or a frequency's `key`), after the series' labels. */
  readonly extra?: readonly [string, string] | undefined
  readonly value: string
}

interface Series {
  readonly type: MetricType
  readonly description: string | undefined
  /** Rendered `name="value"` pairs, sorted by name, joined by commas. */
  readonly labels: string
  /** What tells the series apart in its family: the labels, and a frequency's observed string. */
  readonly identity: string
  readonly samples: ReadonlyArray<Sample>
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** A metric name as the format allows it (`[a-zA-Z_:][a-zA-Z0-9_:]*`): other characters become `_`. */
export const sanitizeMetricName = (name: string): string => {
  const replaced = name.replace(/[^a-zA-Z0-9_:]/g, "_")
  return replaced === "" || /^[0-9]/.test(replaced) ? `_${replaced}` : replaced
}

/** A label name as the format allows it (`[a-zA-Z_][a-zA-Z0-9_]*`): other characters become `_`. */
export const sanitizeLabelName = (name: string): string => {
  const replaced = name.replace(/[^a-zA-Z0-9_]/g, "_")
  return replaced === "" || /^[0-9]/.test(replaced) ? `_${replaced}` : replaced
}

/** Escape a label value: backslash, double quote and line feed. */
export const escapeLabelValue = (value: string): string =>
  value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")

/** Escape HELP text: backslash and line feed. */
export const escapeHelp = (text: string): string => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

/** A sample value: integers and bigints exactly, `NaN`, `+Inf` and `-Inf` as the format spells them. */
export const formatValue = (value: number | bigint): string => {
  if (typeof value === "bigint") return value.toString()
  if (Number.isNaN(value)) return "NaN"
  if (value === Number.POSITIVE_INFINITY) return "+Inf"
  if (value === Number.NEGATIVE_INFINITY) return "-Inf"
  return String(value)
}

const renderLabels = (labels: string, extra: readonly [string, string] | undefined): string => {
  const all = extra === undefined ? labels : `${labels}${labels === "" ? "" : ","}${extra[0]}="${escapeLabelValue(extra[1])}"`
  return all === "" ? "" : `{${all}}`
}

/**
 * The series' labels, sanitised and sorted by name. If a tag is repeated, the last one applied wins; a tag named
 * like the label the type adds (`le`, `quantile`, `key`) is renamed `exported_<name>`, as Prometheus does.
 */
const seriesLabels = (pair: MetricPair.MetricPair.Untyped, reserved: string | undefined): string => {
  const byName = new Map<string, string>()
  for (const tag of pair.metricKey.tags) {
    const name = sanitizeLabelName(tag.key)
    byName.set(name === reserved ? `exported_${name}` : name, tag.value)
  }
  return [...byName.entries()]
    .sort(([a], [b]) => compare(a, b))
    .map(([name, value]) => `${name}="${escapeLabelValue(value)}"`)
    .join(",")
}

const identified = (labels: string): { readonly labels: string; readonly identity: string } => ({ labels, identity: labels })

const toSeries = (pair: MetricPair.MetricPair.Untyped): ReadonlyArray<Series> | string => {
  const key = pair.metricKey
  const state: unknown = pair.metricState
  const description = Option.getOrUndefined(key.description)
  if (MetricState.isCounterState(state)) {
    // A non-incremental Effect counter can go down, which a Prometheus counter must not; it is a gauge there.
    const incremental = MetricKeyType.isCounterKey(key.keyType) && key.keyType.incremental
    return [
      {
        type: incremental ? "counter" : "gauge",
        description,
        ...identified(seriesLabels(pair, undefined)),
        samples: [{ suffix: "", value: formatValue(state.count) }]
      }
    ]
  }
  if (MetricState.isGaugeState(state)) {
    return [
      {
        type: "gauge",
        description,
        ...identified(seriesLabels(pair, undefined)),
        samples: [{ suffix: "", value: formatValue(state.value) }]
      }
    ]
  }
  if (MetricState.isHistogramState(state)) {
    // Effect's buckets are already cumulative and end at +Inf (MetricBoundaries appends it); keep +Inf regardless.
    const buckets = [...state.buckets]
    const last = buckets[buckets.length - 1]
    if (last === undefined || last[0] !== Number.POSITIVE_INFINITY) buckets.push([Number.POSITIVE_INFINITY, state.count])
    const samples: Array<Sample> = buckets.map(([le, count]) => ({
      suffix: "_bucket",
      extra: ["le", formatValue(le)],
      value: formatValue(count)
    }))
    samples.push({ suffix: "_sum", value: formatValue(state.sum) }, { suffix: "_count", value: formatValue(state.count) })
    return [{ type: "histogram", description, ...identified(seriesLabels(pair, "le")), samples }]
  }
  if (MetricState.isSummaryState(state)) {
    // A quantile with no observations in the window is NaN, as Prometheus client libraries report it.
    const samples: Array<Sample> = state.quantiles.map(([quantile, value]) => ({
      suffix: "",
      extra: ["quantile", formatValue(quantile)],
      value: formatValue(Option.getOrElse(value, () => Number.NaN))
    }))
    samples.push({ suffix: "_sum", value: formatValue(state.sum) }, { suffix: "_count", value: formatValue(state.count) })
    return [{ type: "summary", description, ...identified(seriesLabels(pair, "quantile")), samples }]
  }
  if (MetricState.isFrequencyState(state)) {
    // One counter series per observed string, under the label `key`.
    const labels = seriesLabels(pair, "key")
    return [...state.occurrences.entries()].map(([word, count]) => ({
      type: "counter",
      description,
      labels,
      identity: `${labels}\u0000${word}`,
      samples: [{ suffix: "", extra: ["key", word], value: formatValue(count) }]
    }))
  }
  return "unknown metric state"
}

const valuesOf = (series: Series): string => series.samples.map((sample) => sample.value).join(" ")

/**
 * Render metric pairs as Prometheus text format 0.0.4: one `# HELP` (when the metric has a description) and one
 * `# TYPE` per name, then its series sorted by labels; families sorted by name. Histograms give cumulative
 * `_bucket{le}` lines through `le="+Inf"`, then `_sum` and `_count`; summaries give `{quantile}` lines, `_sum` and
 * `_count`; frequencies give a counter per observed string (label `key`). Series that cannot be exposed validly
 * (a name already used by another type, or the same labels twice) are left out with a `#` comment saying why.
 */
export const render = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>): string => {
  const families = new Map<string, Array<Series>>()
  const skipped: Array<string> = []
  for (const pair of pairs) {
    const name = sanitizeMetricName(pair.metricKey.name)
    const series = toSeries(pair)
    if (typeof series === "string") {
      skipped.push(`# skipped ${name}: ${series}`)
      continue
    }
    const family = families.get(name) ?? []
    family.push(...series)
    families.set(name, family)
  }
  const lines: Array<string> = []
  for (const name of [...families.keys()].sort(compare)) {
    const all = (families.get(name) ?? []).sort(
      (a, b) => compare(a.type, b.type) || compare(a.identity, b.identity) || compare(valuesOf(a), valuesOf(b))
    )
    const first = all[0]
    if (first === undefined) continue
    const type = first.type
    // Keys differing only in description are separate registry entries; the format allows one HELP per name.
    const help = all
      .flatMap((series) => (series.type === type && series.description !== undefined ? [series.description] : []))
      .sort(compare)[0]
    if (help !== undefined) lines.push(`# HELP ${name} ${escapeHelp(help)}`)
    lines.push(`# TYPE ${name} ${type}`)
    const seen = new Set<string>()
    const notes: Array<string> = []
    for (const series of all) {
      if (series.type !== type) {
        notes.push(`# skipped a ${series.type} series of ${name}: the name is already a ${type}`)
        continue
      }
      if (seen.has(series.identity)) {
        notes.push(`# skipped a duplicate series of ${name}: the same labels twice (tags applied in another order, or names equal once sanitised)`)
        continue
      }
      seen.add(series.identity)
      for (const sample of series.samples) {
        lines.push(`${name}${sample.suffix}${renderLabels(series.labels, sample.extra)} ${sample.value}`)
      }
    }
    lines.push(...notes)
  }
  lines.push(...skipped.sort(compare))
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`
}

/** The process's metric registry (`Metric.snapshot`) rendered by `render`. */
export const renderSnapshot: Effect.Effect<string> = Effect.map(Metric.snapshot, render)

/** `GET /metrics`: every metric of the process in Prometheus text format 0.0.4. */
export const MetricsRoute = HttpLayerRouter.add(
  "GET",
  "/metrics",
  Effect.map(renderSnapshot, (body) => HttpServerResponse.text(body, { contentType }))
)
