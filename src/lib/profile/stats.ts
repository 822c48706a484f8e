/** Descriptive statistics of one numeric column. */
export interface ColumnProfile {
  name: string
  dtype: string
  role: 'time' | 'feature' | 'label' | 'target' | 'other'
  count: number
  missing: number
  missingPct: number
  distinct: number
  min: number | null
  max: number | null
  mean: number | null
  std: number | null
  quantiles: Record<'p01' | 'p05' | 'p25' | 'p50' | 'p75' | 'p95' | 'p99', number | null>
  histogram: {start: number; end: number; count: number}[]
}

const QUANTILES = {p01: 0.01, p05: 0.05, p25: 0.25, p50: 0.5, p75: 0.75, p95: 0.95, p99: 0.99} as const

/** Linear-interpolated quantile of sorted values (the "type 7" definition numpy and polars use). */
export function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null
  const pos = (sorted.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo)
}

export function histogram(sorted: number[], bins = 30): ColumnProfile['histogram'] {
  if (sorted.length === 0) return []
  const min = sorted[0]!
  const max = sorted.at(-1)!
  if (min === max) return [{start: min, end: max, count: sorted.length}]
  const width = (max - min) / bins
  const counts = new Array<number>(bins).fill(0)
  for (const v of sorted) counts[Math.min(bins - 1, Math.floor((v - min) / width))]!++
  return counts.map((count, i) => ({start: min + i * width, end: min + (i + 1) * width, count}))
}

export function profileColumn(name: string, dtype: string, role: ColumnProfile['role'], values: (number | null)[]): ColumnProfile {
  const present = values.filter((v): v is number => v !== null && Number.isFinite(v))
  const sorted = [...present].sort((a, b) => a - b)
  const n = sorted.length
  const mean = n ? sorted.reduce((a, b) => a + b, 0) / n : null
  const std = n > 1 && mean !== null ? Math.sqrt(sorted.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : null
  const quantiles = Object.fromEntries(Object.entries(QUANTILES).map(([k, q]) => [k, quantile(sorted, q)])) as ColumnProfile['quantiles']
  return {
    name, dtype, role,
    count: values.length,
    missing: values.length - n,
    missingPct: values.length ? (100 * (values.length - n)) / values.length : 0,
    distinct: new Set(sorted).size,
    min: n ? sorted[0]! : null,
    max: n ? sorted.at(-1)! : null,
    mean, std, quantiles,
    histogram: role === 'time' ? [] : histogram(sorted),
  }
}

/** Pearson correlation over rows where both values are present. */
export function pearson(a: (number | null)[], b: (number | null)[]): number | null {
  let n = 0
  let sa = 0
  let sb = 0
  for (let i = 0; i < a.length; i++) {
    if (a[i] === null || b[i] === null) continue
    n++
    sa += a[i]!
    sb += b[i]!
  }
  if (n < 3) return null
  const ma = sa / n
  const mb = sb / n
  let cov = 0
  let va = 0
  let vb = 0
  for (let i = 0; i < a.length; i++) {
    if (a[i] === null || b[i] === null) continue
    const da = a[i]! - ma
    const db = b[i]! - mb
    cov += da * db
    va += da * da
    vb += db * db
  }
  return va === 0 || vb === 0 ? null : cov / Math.sqrt(va * vb)
}
