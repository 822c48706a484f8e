import {readFile, stat} from 'node:fs/promises'

import {levelKey} from '../stats/intervals.js'
import type {ServedModel} from './served-model.js'

/** Live bands need this many scored forecasts of their horizon before they replace the calibrated ones (as rps forecast). */
const MIN_LIVE_RESIDUALS = 24

interface LiveIntervalsDoc {
  intervals?: {version?: unknown; by_horizon?: Record<string, Record<string, {halfWidth?: unknown; n?: unknown}>>} | null
}

/**
 * Each horizon's half-widths (in the model's level order) from the live bands rps forecast replays
 * (live-errors.json `intervals`), where they belong to this version and rest on enough forecasts;
 * the calibrated ones elsewhere. Undefined when the file holds nothing for this version.
 */
export function liveHalfWidths(doc: LiveIntervalsDoc, served: ServedModel): Map<number, number[]> | undefined {
  const intervals = doc.intervals
  if (!intervals || intervals.version !== served.identity.version || typeof intervals.by_horizon !== 'object' || intervals.by_horizon === null) return undefined
  let live = 0
  const widths = new Map<number, number[]>()
  for (const h of served.horizons) {
    const byLevel = intervals.by_horizon[String(h)]
    widths.set(h, served.levels.map((level, l) => {
      const band = byLevel?.[levelKey(level)]
      if (band && typeof band.halfWidth === 'number' && Number.isFinite(band.halfWidth) && band.halfWidth >= 0 && typeof band.n === 'number' && band.n >= MIN_LIVE_RESIDUALS) {
        live++
        return band.halfWidth
      }
      return served.calibratedHalfWidth(h, l)
    }))
  }
  return live ? widths : undefined
}

/**
 * Keeps the served model's bands on the live ones: re-reads the file when it changed (inode, size,
 * mtime), off the request path. A missing, unreadable or foreign file leaves the calibrated bands.
 */
export class LiveBandsWatcher {
  private key: string | undefined

  constructor(private readonly path: string, private readonly current: () => ServedModel | undefined, private readonly log: (line: string) => void) {}

  async refresh(): Promise<void> {
    const served = this.current()
    if (!served) return
    let key: string
    try {
      const info = await stat(this.path)
      key = `${info.ino}:${info.size}:${info.mtimeMs}:${served.identity.version}`
    } catch {
      this.key = undefined
      return
    }
    if (key === this.key) return
    this.key = key
    try {
      const widths = liveHalfWidths(JSON.parse(await readFile(this.path, 'utf8')) as LiveIntervalsDoc, served)
      if (widths && served.useBands(widths, 'live')) this.log(`bands of v${served.identity.version}: live (adaptive conformal inference, ${this.path})`)
    } catch (error) {
      this.log(`cannot read live bands from ${this.path}: ${(error as Error).message}; keeping the current bands`)
    }
  }
}
