import type {HourlyTable} from '../features/hourly-table.js'
import {escapeHtml} from '../profile/html.js'
import type {DriftReport, DriftSettings} from './detect.js'
import type {RetrainDecision} from './page-hinkley.js'

const HOUR_MS = 3_600_000

export interface ValueSummary {
  mean: number | null
  min: number | null
  max: number | null
  /** Hours of the span without a value. */
  missing: number
}

/** The observations a drift check looks at, summarized: what the report shows even when there is no model to judge. */
export interface ObservedWindow {
  start: string
  end: string
  rows: number
  variables: Record<string, ValueSummary>
  chunks: {start: string; end: string; rows: number; variables: Record<string, ValueSummary>}[]
}

function summarize(values: (number | null | undefined)[]): ValueSummary {
  let sum = 0
  let n = 0
  let min = Infinity
  let max = -Infinity
  for (const v of values) {
    if (typeof v !== 'number' || !Number.isFinite(v)) continue
    sum += v
    n++
    if (v < min) min = v
    if (v > max) max = v
  }
  return n ? {mean: sum / n, min, max, missing: values.length - n} : {mean: null, min: null, max: null, missing: values.length}
}

/**
 * The newest `window_hours` of the observation history, cut into `chunk_hours` chunks like the drift
 * check's windows (on the data clock: the window ends after the newest hour). Undefined without history.
 */
export function observedWindow(table: HourlyTable | undefined, settings: Pick<DriftSettings, 'window_hours' | 'chunk_hours'>, variables: string[]): ObservedWindow | undefined {
  if (!table || table.time.length === 0) return undefined
  const end = table.time.at(-1)! + HOUR_MS
  const start = end - settings.window_hours * HOUR_MS
  const idx = table.time.map((t, i) => (t >= start ? i : -1)).filter((i) => i >= 0)
  const pick = (rows: number[]) => Object.fromEntries(variables.map((v) => [v, summarize(rows.map((i) => table.columns[v]?.[i]))]))
  const chunks: ObservedWindow['chunks'] = []
  for (let c = start; c < end; c += settings.chunk_hours * HOUR_MS) {
    const rows = idx.filter((i) => table.time[i]! >= c && table.time[i]! < c + settings.chunk_hours * HOUR_MS)
    if (rows.length) chunks.push({start: new Date(c).toISOString(), end: new Date(c + settings.chunk_hours * HOUR_MS).toISOString(), rows: rows.length, variables: pick(rows)})
  }
  return {start: new Date(start).toISOString(), end: new Date(end).toISOString(), rows: idx.length, variables: pick(idx), chunks}
}

const STYLE = `<style>
body{font:14px/1.4 "DejaVu Sans",Arial,sans-serif;margin:24px;color:#1f2933;max-width:1100px}table{border-collapse:collapse;margin:8px 0 20px}td,th{border-bottom:1px solid #e4e7eb;padding:3px 8px;text-align:left}
.n{text-align:right}.bad{background:#fde8e8}.verdict{font-size:18px;font-weight:600}.muted{color:#616e7c}</style>`

const fmt = (v: number | null, digits = 2) => (v === null ? '–' : v.toFixed(digits))
const hour = (iso: string) => escapeHtml(iso.slice(0, 16).replace('T', ' '))

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>rps drift report</title>${STYLE}</head><body>
<h1>Drift report — ${escapeHtml(title)}</h1>
${body}
</body></html>
`
}

function verdict(decision: RetrainDecision): string {
  const head = decision.retrain ? `Retrain due${decision.trigger ? ` (${escapeHtml(decision.trigger)})` : ''}` : 'No retrain'
  return `<p class="verdict">${head}: ${escapeHtml(decision.reason)}</p>`
}

/** The rules a check applies, with their values, so a report that decides nothing still says what it would take. */
function settingsHtml(s: DriftSettings): string {
  return `<h2>Rules (params.yaml <code>drift</code>)</h2><ul>
<li>Window: the newest ${s.window_hours} h with ground truth, in chunks of ${s.chunk_hours} h.</li>
<li>Concept drift: a chunk is flagged when its MAE exceeds ${s.error_ratio_threshold}× the model's reference MAE, or on a Page-Hinkley alarm (δ ${s.page_hinkley.delta}, λ ${s.page_hinkley.lambda}); a retrain is due when ${s.k} of the last ${s.n} chunks served after the model's data ended are flagged.</li>
<li>Data drift: window PSI of a variable above the larger of ${s.psi_threshold} and the worst same-length window inside the model's training data${s.data_drift_retrain ? ' (retrains)' : ' (reported; retrains only with data_drift_retrain)'}.</li>
<li>Cooldown ${s.cooldown_hours} h after the newest training; a retrain is due anyway when the model is older than ${s.max_model_age_days} days.</li></ul>`
}

function observedHtml(o: ObservedWindow | undefined): string {
  if (!o) return '<h2>Observations</h2><p>No observation history yet (<code>rps featurize</code> writes it).</p>'
  const vars = Object.keys(o.variables)
  const varRows = vars.map((v) => {
    const s = o.variables[v]!
    return `<tr><td>${escapeHtml(v)}</td><td class="n">${fmt(s.mean)}</td><td class="n">${fmt(s.min)}</td><td class="n">${fmt(s.max)}</td><td class="n">${s.missing}</td></tr>`
  }).join('')
  const head = vars.map((v) => `<th>${escapeHtml(v)}<br><span class="muted">mean (min..max)</span></th>`).join('')
  const chunkRows = o.chunks.map((c) => `<tr><td>${hour(c.start)}</td><td class="n">${c.rows}</td>${vars.map((v) => {
    const s = c.variables[v]!
    return `<td class="n">${fmt(s.mean, 1)} (${fmt(s.min, 1)}..${fmt(s.max, 1)})</td>`
  }).join('')}</tr>`).join('')
  return `<h2>Observations in the window</h2><p>${hour(o.start)} .. ${hour(o.end)} UTC, ${o.rows} hourly rows.</p>
<table><tr><th>variable</th><th>mean</th><th>min</th><th>max</th><th>missing h</th></tr>${varRows}</table>
<h2>Chunks</h2><table><tr><th>start (UTC)</th><th>rows</th>${head}</tr>${chunkRows}</table>`
}

/** The page of a check that had no model to examine (first run): the decision, the observed window and the rules that will apply. */
export function noChampionHtml(registeredName: string, decision: RetrainDecision, settings: DriftSettings, observed: ObservedWindow | undefined): string {
  return page(registeredName, `${verdict(decision)}
<p>The registry has no @champion yet, so there are no forecast errors or training deciles to compare with: the first model is trained now. From the next check on, this page shows each chunk's MAE against the model's reference MAE and each variable's PSI against its threshold.</p>
${observedHtml(observed)}
${settingsHtml(settings)}`)
}

/** A small self-contained HTML page of the drift report. */
export function driftHtml(r: DriftReport): string {
  const rows = r.chunks.map((c) => `<tr class="${c.flagged ? 'bad' : ''}"><td>${hour(c.start)}</td><td class="n">${c.rows}</td><td class="n">${c.mae.toFixed(2)}</td><td class="n">${c.errorRatio.toFixed(2)}</td><td>${c.pageHinkleyAlarm ? 'yes' : ''}</td><td>${escapeHtml(c.maxPsi.feature)} ${c.maxPsi.value.toFixed(3)}</td><td>${Date.parse(c.start) >= Date.parse(r.model.dataEnd) ? 'yes' : 'no (training data)'}</td><td>${escapeHtml(c.why.join('; '))}</td></tr>`).join('')
  const psiRows = Object.entries(r.overall.psi).sort((a, b) => b[1] - a[1]).map(([f, v]) => `<tr class="${v > r.psiThresholds[f]! ? 'bad' : ''}"><td>${escapeHtml(f)}</td><td class="n">${v.toFixed(3)}</td><td class="n">${r.psiThresholds[f]!.toFixed(3)}</td></tr>`).join('')
  return page(r.model.name, `${verdict(r.decision)}
<p>Window ${hour(r.window.start)} .. ${hour(r.window.end)} UTC (${r.window.rows} rows with ground truth); model trained on data up to ${hour(r.model.dataEnd)} (${r.modelAgeHours.toFixed(0)} h before the window end).
Data drift: <b>${r.dataDrift ? 'yes' : 'no'}</b>; concept drift: <b>${r.conceptDrift ? 'yes' : 'no'}</b>; window MAE ${r.overall.mae.toFixed(2)} = ${r.overall.errorRatio.toFixed(2)}× the reference MAE ${r.model.validationMae.toFixed(2)} (validation, or holdout when the model has no validation split).</p>
<h2>Chunks</h2>${rows ? `<table><tr><th>start (UTC)</th><th>rows</th><th>MAE</th><th>× reference</th><th>Page-Hinkley</th><th>max PSI</th><th>counts for k of n</th><th>flagged because</th></tr>${rows}</table>` : '<p>No chunk of the window has rows with ground truth.</p>'}
<h2>PSI over the window</h2><p>Data drift when a variable's PSI exceeds its threshold: the larger of ${r.settings.psi_threshold} and the worst same-length window inside the model's own training data.</p><table><tr><th>variable</th><th>PSI</th><th>threshold</th></tr>${psiRows}</table>
${settingsHtml(r.settings)}`)
}
