/** Display helpers. */
import { DateTime } from "effect"

export const time = (value: DateTime.Utc | null): string =>
  value === null ? "–" : DateTime.formatIso(value).replace("T", " ").replace(/\.\d+Z$/, "Z")

export const age = (ms: number | null): string => {
  if (ms === null) return "–"
  if (ms < 1_000) return "now"
  if (ms < 60_000) return `${Math.round(ms / 1_000)} s ago`
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min ago`
  return `${Math.round(ms / 3_600_000)} h ago`
}
