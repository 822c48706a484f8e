import type {FeatureStats} from './feature-stats.js'
import {psi} from '../stats/psi.js'

/**
 * How far a window of the training data itself strays from the training deciles. Weather is
 * autocorrelated: any single week covers a narrow slice of a multi-month distribution, so a
 * fixed PSI threshold fires on almost every week (on the shipped year, window PSI exceeded 0.25 at
 * every daily check). Data drift is therefore judged against the worst window the model was
 * trained on: only a recent window stranger than all of those counts.
 */
export interface PsiReference {
  windowHours: number
  stepHours: number
  windows: number
  /** Per monitored variable: the largest and the 95th-percentile window PSI within the training rows. */
  psi: Record<string, {max: number; p95: number}>
}

/** Slides `windowHours`-row windows (every `stepHours` rows) over time-ordered training rows. */
export function psiReference(features: string[], variables: string[], X: number[][], stats: Record<string, FeatureStats>, windowHours: number, stepHours = 24): PsiReference {
  const out: PsiReference = {windowHours, stepHours, windows: 0, psi: {}}
  const starts: number[] = []
  for (let s = 0; s + windowHours <= X.length; s += stepHours) starts.push(s)
  out.windows = starts.length
  for (const variable of variables) {
    const j = features.indexOf(variable)
    const deciles = stats[variable]?.deciles
    if (j < 0 || !deciles || starts.length === 0) continue
    const values = starts.map((s) => psi(deciles, X.slice(s, s + windowHours).map((row) => row[j]!)).psi).sort((a, b) => a - b)
    out.psi[variable] = {max: values.at(-1)!, p95: values[Math.min(values.length - 1, Math.floor(0.95 * values.length))]!}
  }
  return out
}

/** The PSI a recent window must exceed to count as data drift for `variable`. */
export function psiThreshold(reference: PsiReference | undefined, variable: string, floor: number): number {
  return Math.max(floor, reference?.psi[variable]?.max ?? 0)
}
