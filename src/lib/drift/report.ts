import {escapeHtml} from '../profile/html.js'
import type {DriftReport} from './detect.js'

/** A small self-contained HTML page of the drift report. */
export function driftHtml(r: DriftReport): string {
  const rows = r.chunks.map((c) => `<tr class="${c.flagged ? 'bad' : ''}"><td>${c.start.slice(0, 16)}</td><td class="n">${c.rows}</td><td class="n">${c.mae.toFixed(2)}</td><td class="n">${c.errorRatio.toFixed(2)}</td><td>${c.pageHinkleyAlarm ? 'yes' : ''}</td><td>${escapeHtml(c.maxPsi.feature)} ${c.maxPsi.value.toFixed(3)}</td><td>${escapeHtml(c.why.join('; '))}</td></tr>`).join('')
  const psiRows = Object.entries(r.overall.psi).sort((a, b) => b[1] - a[1]).map(([f, v]) => `<tr class="${v > r.psiThresholds[f]! ? 'bad' : ''}"><td>${escapeHtml(f)}</td><td class="n">${v.toFixed(3)}</td><td class="n">${r.psiThresholds[f]!.toFixed(3)}</td></tr>`).join('')
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>rps drift report</title><style>
body{font:14px/1.4 "DejaVu Sans",Arial,sans-serif;margin:24px;color:#1f2933}table{border-collapse:collapse;margin:8px 0 20px}td,th{border-bottom:1px solid #e4e7eb;padding:3px 8px;text-align:left}
.n{text-align:right}.bad{background:#fde8e8}.verdict{font-size:18px;font-weight:600}</style></head><body>
<h1>Drift report — ${escapeHtml(r.model.name)}</h1>
<p class="verdict">${r.decision.retrain ? 'Retrain recommended' : 'No retrain'}: ${escapeHtml(r.decision.reason)}</p>
<p>Window ${r.window.start.slice(0, 16)} .. ${r.window.end.slice(0, 16)} (${r.window.rows} rows with ground truth); model trained on data up to ${r.model.dataEnd.slice(0, 16)} (${r.modelAgeHours.toFixed(0)} h before the window end).
Data drift: <b>${r.dataDrift ? 'yes' : 'no'}</b>; concept drift: <b>${r.conceptDrift ? 'yes' : 'no'}</b>; window MAE ${r.overall.mae.toFixed(2)} °C = ${r.overall.errorRatio.toFixed(2)}× the reference MAE ${r.model.validationMae.toFixed(2)} (validation, or holdout when the model has no validation split).</p>
<h2>Chunks</h2><table><tr><th>start</th><th>rows</th><th>MAE</th><th>× reference</th><th>Page-Hinkley</th><th>max PSI</th><th>flagged because</th></tr>${rows}</table>
<h2>PSI over the window</h2><p>Data drift when a variable's PSI exceeds its threshold: the larger of ${r.settings.psi_threshold} and the worst same-length window inside the model's own training data.</p><table><tr><th>variable</th><th>PSI</th><th>threshold</th></tr>${psiRows}</table>
</body></html>
`
}
