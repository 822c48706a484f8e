/** A whole UTC hour as the API takes it: `2026-03-01T12:00:00Z` (what toISOString gives, minus the milliseconds). */
export const HOUR_TIME_PATTERN = '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:00:00Z$'

const HOUR_MS = 3_600_000
const DATE_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9]

// The day of the previous call: an observations instance is 25+ consecutive hours of one or two
// days, so its rows skip the calendar work (a Date per row was most of this function's cost).
let lastDay = ''
let lastDayMs = Number.NaN

/**
 * The hour in ms, or NaN unless `s` is exactly YYYY-MM-DDTHH:00:00Z of a real calendar hour (no
 * 2026-02-30, no T24). Character checks, no regular expression and no Date.parse leniency.
 */
export function parseHourTime(s: unknown): number {
  if (typeof s !== 'string' || s.length !== 20 || s.charCodeAt(10) !== 84 || !s.endsWith(':00:00Z')) return Number.NaN
  const h1 = s.charCodeAt(11) - 48
  const h2 = s.charCodeAt(12) - 48
  if (h1 < 0 || h1 > 2 || h2 < 0 || h2 > 9 || h1 * 10 + h2 > 23) return Number.NaN
  if (lastDay === '' || !s.startsWith(lastDay)) {
    const dayMs = parseDay(s)
    if (Number.isNaN(dayMs)) return Number.NaN
    lastDay = s.slice(0, 10)
    lastDayMs = dayMs
  }
  return lastDayMs + (h1 * 10 + h2) * HOUR_MS
}

/** Midnight UTC of the YYYY-MM-DD that `s` starts with, or NaN unless it is a real calendar day. */
function parseDay(s: string): number {
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return Number.NaN
  for (const i of DATE_DIGITS) {
    const c = s.charCodeAt(i)
    if (c < 48 || c > 57) return Number.NaN
  }
  const num = (i: number, n: number) => {
    let v = 0
    for (let k = i; k < i + n; k++) v = v * 10 + s.charCodeAt(k) - 48
    return v
  }
  const year = num(0, 4)
  const month = num(5, 2)
  const day = num(8, 2)
  if (month < 1 || month > 12 || day < 1) return Number.NaN
  // setUTCFullYear, not Date.UTC: that one reads years 0-99 as 1900-1999. 02-30 rolls over into March: a real date round-trips.
  const d = new Date(0)
  d.setUTCFullYear(year, month - 1, day)
  return d.getUTCDate() === day ? d.getTime() : Number.NaN
}
