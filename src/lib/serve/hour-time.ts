/** A whole UTC hour as the API takes it: `2026-03-01T12:00:00Z` (what toISOString gives, minus the milliseconds). */
export const HOUR_TIME_PATTERN = '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:00:00Z$'

const DIGIT_POSITIONS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12]

/**
 * The hour in ms, or NaN unless `s` is exactly YYYY-MM-DDTHH:00:00Z of a real calendar hour (no
 * 2026-02-30, no T24). Character checks, no regular expression and no Date.parse leniency.
 */
export function parseHourTime(s: unknown): number {
  if (typeof s !== 'string' || s.length !== 20 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 84 || !s.endsWith(':00:00Z')) return Number.NaN
  for (const i of DIGIT_POSITIONS) {
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
  const hour = num(11, 2)
  if (month < 1 || month > 12 || day < 1 || hour > 23) return Number.NaN
  // setUTCFullYear, not Date.UTC: that one reads years 0-99 as 1900-1999. 02-30 rolls over into March: a real date round-trips.
  const d = new Date(0)
  d.setUTCFullYear(year, month - 1, day)
  d.setUTCHours(hour)
  return d.getUTCDate() === day ? d.getTime() : Number.NaN
}
