import {dirname, join} from 'node:path'

import {vegaLiteToSvg} from '../charts/render.js'
import type {HourlyTable} from '../features/hourly-table.js'
import {type FanPath, fanChartSpec} from '../model/plots.js'
import {REPORT_CSS, escapeHtml} from '../profile/html.js'
import {leadHours} from './live-errors.js'
import type {PredictionRecord} from './prediction-log.js'

const HOUR_MS = 3_600_000

/** Hours of observations the page shows, up to and including the issue hour. */
export const OBSERVED_HOURS = 48

export interface ForecastPageInput {
  location: string
  target: string
  model: {name: string; version: string; alias: string}
  /** The observation hour the path was forecast from (ISO). */
  issuedAt: string
  /** The target's observed values up to the issue hour, oldest first. */
  observed: {time: number; value: number}[]
  /** Every horizon's forecast from issuedAt, as logged. */
  path: PredictionRecord[]
  writtenAt: string
}

/** RPS_FORECAST_PAGE, else forecast.html beside the live errors file. */
export function forecastPagePath(liveErrorsFile: string, env: NodeJS.ProcessEnv = process.env): string {
  return env.RPS_FORECAST_PAGE || join(dirname(liveErrorsFile), 'forecast.html')
}

/** The target's observed values over the `hours` hours ending with `issuedMs`; hours without a value are left out. */
export function observedUpTo(table: HourlyTable, target: string, issuedMs: number, hours = OBSERVED_HOURS): {time: number; value: number}[] {
  const values = table.columns[target] ?? []
  const from = issuedMs - (hours - 1) * HOUR_MS
  const out: {time: number; value: number}[] = []
  table.time.forEach((time, i) => {
    const value = values[i]
    if (time >= from && time <= issuedMs && typeof value === 'number' && Number.isFinite(value)) out.push({time, value})
  })
  return out
}

/** Every band level the path carries, ascending (0.8, 0.95). */
function levelsOf(path: PredictionRecord[]): number[] {
  return [...new Set(path.flatMap((r) => Object.keys(r.bands ?? {})))].map(Number).sort((a, b) => a - b)
}

const pct = (level: number) => `${Math.round(level * 100)} %`
const hour = (iso: string) => escapeHtml(`${iso.slice(0, 16).replace('T', ' ')} UTC`)
const num = (v: number) => v.toFixed(1)

/** The path as a fan: starting at the issue hour's observed value, each horizon's point labelled +h, the wider band first. */
function fanOf(input: ForecastPageInput, path: PredictionRecord[], levels: number[]): FanPath {
  const issued = Date.parse(input.issuedAt)
  const start = path[0]?.persistence
  const anchor = start === undefined ? [] : [{time: issued, value: start, bands: levels.map((level) => ({level, lower: start, upper: start}))}]
  return {
    issued,
    points: [...anchor, ...path.map((r) => ({
      time: Date.parse(r.target_time), value: r.prediction, label: `+${leadHours(r)}`,
      bands: Object.entries(r.bands ?? {}).map(([level, [lower, upper]]) => ({level: Number(level), lower, upper})).sort((a, b) => b.level - a.level),
    }))],
  }
}

const SOURCES: Record<string, string> = {
  live: 'live adaptive bands (adaptive conformal inference over this version\'s scored forecasts)',
  calibration: 'the training calibration (split conformal on the model\'s holdout)',
  mixed: 'live bands for some levels, the training calibration for others',
  unrecorded: 'not recorded in the prediction log (a line written before rps recorded it)',
  none: 'none: the model has no calibration',
}

function sourceOf(r: PredictionRecord): string {
  if (!r.bands || Object.keys(r.bands).length === 0) return 'none'
  const sources = new Set(Object.values(r.band_source ?? {}))
  if (sources.size === 0) return 'unrecorded'
  return sources.size === 1 ? [...sources][0]! : 'mixed'
}

/** Where the bands come from, e.g. "live … at +1 h, +2 h; the training calibration … at +3 h … +6 h". */
export function bandSourceLine(path: PredictionRecord[]): string {
  const byHorizon = new Map<string, number[]>()
  for (const r of path) byHorizon.set(sourceOf(r), [...(byHorizon.get(sourceOf(r)) ?? []), leadHours(r)])
  if (byHorizon.size === 1) return `Bands: ${SOURCES[[...byHorizon.keys()][0]!]}, at every horizon.`
  return `Bands: ${[...byHorizon].map(([source, hs]) => `${SOURCES[source]} at ${hs.map((h) => `+${h} h`).join(', ')}`).join('; ')}.`
}

function table(path: PredictionRecord[], levels: number[], target: string): string {
  const head = `<tr><th>horizon</th><th>target time (UTC)</th><th class="num">forecast (${escapeHtml(target)})</th>${levels.map((l) => `<th class="num">${pct(l)} band</th>`).join('')}</tr>`
  const rows = path.map((r) => {
    const bands = levels.map((l) => {
      const band = r.bands?.[String(l)]
      return `<td class="num">${band ? `${num(band[0])} … ${num(band[1])}` : '—'}</td>`
    }).join('')
    return `<tr><td>+${leadHours(r)} h</td><td>${hour(r.target_time)}</td><td class="num">${num(r.prediction)}</td>${bands}</tr>`
  }).join('')
  return `<table>${head}${rows}</table>`
}

/**
 * The forecast page: the last 48 h observed and the path from the issue hour with its bands, in
 * one chart, and a table of every horizon. Self-contained: inline CSS and SVG, no scripts.
 */
export async function renderForecastPage(input: ForecastPageInput): Promise<string> {
  const path = [...input.path].sort((a, b) => leadHours(a) - leadHours(b))
  const levels = levelsOf(path)
  const title = `${input.target}: the last ${OBSERVED_HOURS} h observed and the forecast from ${input.issuedAt.slice(0, 16).replace('T', ' ')} UTC`
  const svg = await vegaLiteToSvg(fanChartSpec([fanOf(input, path, levels)], input.observed, title, {yTitle: input.target, width: 1000}))
  const heading = `rps forecast — ${escapeHtml(input.location)}`
  const bandNames = levels.length ? ` with its ${levels.map(pct).join(' and ')} bands (shaded, the narrower darker)` : ''
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${heading} — ${escapeHtml(input.model.name)} v${escapeHtml(input.model.version)}, issued ${hour(input.issuedAt)}</title><style>${REPORT_CSS}</style></head>
<body>
<header><h1>${heading}</h1>
<p>Model ${escapeHtml(input.model.name)} v${escapeHtml(input.model.version)} (@${escapeHtml(input.model.alias)}) · issued ${hour(input.issuedAt)} · target ${escapeHtml(input.target)}</p></header>
<main>
<section id="chart"><h2>Observed and forecast</h2><p>The last ${OBSERVED_HOURS} h observed (black) and the forecast path from the issue hour (blue, each point labelled with its horizon in hours)${bandNames}.</p><div class="chart">${svg}</div></section>
<section id="path"><h2>Forecast path</h2>${table(path, levels, input.target)}
<p class="muted">${escapeHtml(bandSourceLine(path))} Written ${escapeHtml(input.writtenAt)} by rps forecast.</p></section>
</main></body></html>
`
}
