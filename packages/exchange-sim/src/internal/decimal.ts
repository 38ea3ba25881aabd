/** Integer amounts in units of 10^-decimals, written as exact decimal strings (no floating-point rounding). */

const pow10 = (n: number): number => 10 ** n

/** `units × 10^-decimals` as a decimal string with exactly `decimals` digits after the point (none when 0). */
export const format = (units: number, decimals: number): string => {
  const negative = units < 0
  const abs = Math.abs(units)
  if (decimals === 0) return (negative ? "-" : "") + String(abs)
  const scale = pow10(decimals)
  const whole = Math.floor(abs / scale)
  const fraction = String(abs - whole * scale).padStart(decimals, "0")
  return (negative ? "-" : "") + String(whole) + "." + fraction
}

/** Like `format` but padded (or cut, as the amount is already exact) to `width` fraction digits. */
export const formatFixed = (units: number, decimals: number, width: number): string => {
  const text = format(units, decimals)
  if (width <= decimals) return text
  const padding = "0".repeat(width - decimals)
  return decimals === 0 ? text + "." + padding : text + padding
}

/** `units × 10^-decimals` as a JavaScript number (for ratios and domain values). */
export const toNumber = (units: number, decimals: number): number => units / pow10(decimals)
