import type {LiveErrors} from '../live/live-errors.js'

/** The live window the coverage evidence is read from (LIVE_WINDOWS of live-errors.json). */
export const COVERAGE_WINDOW = '7d'

/** The band that falls furthest below its level, with the numbers a decision reason shows. */
export interface CoverageShortfall {
  horizon: number
  level: number
  coverage: number
  /** Scored forecasts of that horizon in the window that carried bands. */
  n: number
  window: string
}

export interface CoverageSettings {
  /** A band whose live coverage is more than this below its level is concept drift evidence (default 0.15). */
  coverage_drop?: number
  /** Fewer banded forecasts of a horizon in the window than this: its coverage is not judged (default 48). */
  coverage_min_samples?: number
}

export const DEFAULT_COVERAGE_DROP = 0.15
export const DEFAULT_COVERAGE_MIN_SAMPLES = 48

/**
 * The served version's worst-covering band in live-errors.json (written by rps forecast), when it falls
 * short of its level by more than `coverage_drop` with at least `coverage_min_samples` banded forecasts;
 * null otherwise. Per-horizon coverage mixes every version whose forecasts lie in the window, so it is
 * the served version's only when that version has served the whole window (its first scored target is
 * at or before the window's start): right after a promotion the predecessor's bands are not held
 * against the new model.
 */
export function coverageShortfall(live: Partial<LiveErrors> | null | undefined, version: string, settings: CoverageSettings = {}): CoverageShortfall | null {
  const drop = settings.coverage_drop ?? DEFAULT_COVERAGE_DROP
  const minSamples = settings.coverage_min_samples ?? DEFAULT_COVERAGE_MIN_SAMPLES
  const start = Date.parse(live?.windows?.[COVERAGE_WINDOW]?.start ?? '')
  const first = Date.parse(live?.by_version?.[version]?.first_target_time ?? '')
  if (!(first <= start) || typeof live?.by_horizon !== 'object' || live.by_horizon === null) return null
  let worst: CoverageShortfall | null = null
  for (const [horizon, h] of Object.entries(live.by_horizon)) {
    const w = h?.windows?.[COVERAGE_WINDOW]
    if (typeof w?.with_bands !== 'number' || !(w.with_bands >= minSamples)) continue
    for (const [key, coverage] of Object.entries(w.coverage ?? {})) {
      const level = Number(key)
      if (typeof coverage !== 'number' || !Number.isFinite(level) || !(level - coverage > drop)) continue
      if (!worst || level - coverage > worst.level - worst.coverage) worst = {horizon: Number(horizon), level, coverage, n: w.with_bands, window: COVERAGE_WINDOW}
    }
  }
  return worst
}

/** "the 80 % band at 6 h covered 0.61 of 168 forecasts over 7d (< 0.80 - 0.15)" */
export function describeShortfall(s: CoverageShortfall, drop = DEFAULT_COVERAGE_DROP): string {
  return `the ${Math.round(s.level * 1000) / 10} % band at ${s.horizon} h covered ${s.coverage.toFixed(2)} of ${s.n} forecasts over ${s.window} (< ${s.level.toFixed(2)} - ${drop})`
}
