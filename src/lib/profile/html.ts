import {vegaLiteToSvg} from '../charts/render.js'
import {correlationSpec, coverageSpec, histogramSpec} from './charts.js'
import type {DatasetProfile} from './profile.js'
import type {ColumnProfile} from './stats.js'

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'})[c]!)
}

function fmt(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined) return '—'
  if (Number.isInteger(v) && Math.abs(v) < 1e12) return v.toLocaleString('en-US')
  return Math.abs(v) >= 1000 ? v.toFixed(1) : Number(v.toPrecision(digits + 1)).toString()
}

/** The look of rps's HTML reports (header band, white sections, tables, inline SVG charts). */
export const REPORT_CSS = `
:root{--fg:#1f2933;--muted:#616e7c;--line:#e4e7eb;--bg:#f5f7fa;--ok:#1f9d55;--bad:#cc1f1a;--skip:#9aa5b1;--accent:#4c78a8}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 "DejaVu Sans",Helvetica,Arial,sans-serif;color:var(--fg);background:var(--bg)}
header{background:#102a43;color:#fff;padding:20px 32px}header h1{margin:0 0 4px;font-size:22px}header p{margin:0;color:#bcccdc}
main{max-width:1180px;margin:0 auto;padding:20px 32px 48px}section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px 20px;margin:18px 0}
h2{font-size:17px;margin:0 0 12px}nav a{color:#9fb3c8;margin-right:14px;text-decoration:none}nav{margin-top:10px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px}.card{border:1px solid var(--line);border-radius:6px;padding:10px 12px}
.card .k{color:var(--muted);font-size:12px}.card .v{font-size:20px;font-weight:600}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:left}th{color:var(--muted);font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}.pass{color:var(--ok);font-weight:600}.fail{color:var(--bad);font-weight:600}.skip{color:var(--skip)}
.cols{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:14px}.col{border:1px solid var(--line);border-radius:6px;padding:10px 12px}
.col h3{font-size:14px;margin:0 0 6px;word-break:break-all}.badge{display:inline-block;font-size:11px;padding:1px 6px;border-radius:9px;background:#d9e2ec;color:#334e68;margin-left:6px}
.badge.label{background:#fde68a;color:#7c5800}.badge.target{background:#fecaca;color:#7f1d1d}.col table td{padding:2px 6px}.chart svg{max-width:100%;height:auto}
.muted{color:var(--muted)}`

function statsTable(c: ColumnProfile): string {
  const rows: [string, string][] = [
    ['count', fmt(c.count)], ['missing', `${fmt(c.missing)} (${c.missingPct.toFixed(2)} %)`], ['distinct', fmt(c.distinct)],
    ['min', fmt(c.min)], ['max', fmt(c.max)], ['mean', fmt(c.mean)], ['std', fmt(c.std)],
    ['p01 / p05', `${fmt(c.quantiles.p01)} / ${fmt(c.quantiles.p05)}`], ['p25 / p50 / p75', `${fmt(c.quantiles.p25)} / ${fmt(c.quantiles.p50)} / ${fmt(c.quantiles.p75)}`],
    ['p95 / p99', `${fmt(c.quantiles.p95)} / ${fmt(c.quantiles.p99)}`],
  ]
  return `<table>${rows.map(([k, v]) => `<tr><th>${k}</th><td class="num">${v}</td></tr>`).join('')}</table>`
}

function qualitySection(p: DatasetProfile): string {
  const q = p.quality
  const quarantine = p.quarantinedRawFiles ? `<p class="fail">${p.quarantinedRawFiles} raw file(s) in data/quarantine (changed after fetch or unreadable; see their .reason.json).</p>` : ''
  if (!q) return `${quarantine}<p class="muted">No quality report found under data/raw.</p>`
  const rows = q.checks.map((c) => `<tr><td>${escapeHtml(c.name)}</td><td class="${c.status}">${c.status.toUpperCase()}</td><td class="num">${escapeHtml(String(c.value ?? ''))}</td><td class="num">${escapeHtml(String(c.threshold ?? ''))}</td><td>${escapeHtml(c.detail ?? '')}</td></tr>`).join('')
  return `${quarantine}<p>Latest gate: <span class="${q.passed ? 'pass' : 'fail'}">${q.passed ? 'PASSED' : 'FAILED'}</span> — ${escapeHtml(q.source)} / ${escapeHtml(q.kind)}, collected ${escapeHtml(q.collectedAt)}, ${q.rows} rows (<code>${escapeHtml(q.file.split('/').at(-1) ?? '')}</code>)</p>
<table><tr><th>check</th><th>status</th><th>value</th><th>threshold</th><th>detail</th></tr>${rows}</table>`
}

/** A self-contained HTML page: inline CSS and SVG charts, no scripts, no external requests. */
export async function renderProfileHtml(p: DatasetProfile): Promise<string> {
  const corr = p.correlations.filter((c) => c.withLabel !== null).map((c) => ({feature: c.feature, r: c.withLabel!}))
  const corrTarget = p.correlations.filter((c) => c.withTarget !== null).map((c) => ({feature: c.feature, r: c.withTarget!}))
  const [coverageSvg, corrSvg, corrTargetSvg] = await Promise.all([
    vegaLiteToSvg(coverageSpec(p.coverage, p.dataset.target)),
    vegaLiteToSvg(correlationSpec(corr, 'Correlation with the label y')),
    vegaLiteToSvg(correlationSpec(corrTarget, `Correlation with ${p.dataset.target}(t+${p.dataset.horizonHours}h)`)),
  ])
  const histograms = await Promise.all(p.columns.map((c) => (c.histogram.length ? vegaLiteToSvg(histogramSpec(c)) : Promise.resolve(''))))
  const filled = Object.values(p.gaps.filled).reduce((a, b) => a + b, 0)
  const incompleteDays = p.coverage.filter((d) => d.hours < 24)
  const cards: [string, string][] = [
    ['rows', fmt(p.dataset.rows)], ['columns', fmt(p.dataset.columns)], ['features', fmt(p.columns.filter((c) => c.role === 'feature').length)],
    ['history hours', fmt(p.history.hours)], ['hours interpolated', fmt(filled)], ['unfilled gaps', fmt(p.gaps.longGaps.length)],
    ['first row', (p.dataset.span.first ?? '—').slice(0, 16)], ['last row', (p.dataset.span.last ?? '—').slice(0, 16)],
  ]
  const gapRows = p.gaps.longGaps.slice(0, 50).map((g) => `<tr><td>${escapeHtml(g.variable)}</td><td>${g.from.slice(0, 16)}</td><td>${g.to.slice(0, 16)}</td><td class="num">${g.hours}</td></tr>`).join('')
  const corrRows = [...p.correlations].sort((a, b) => Math.abs(b.withLabel ?? 0) - Math.abs(a.withLabel ?? 0))
    .map((c) => `<tr><td>${escapeHtml(c.feature)}</td><td class="num">${fmt(c.withLabel)}</td><td class="num">${fmt(c.withTarget)}</td></tr>`).join('')
  const columnCards = p.columns.map((c, i) => `<div class="col" id="col-${escapeHtml(c.name)}"><h3>${escapeHtml(c.name)}<span class="badge ${c.role}">${c.role}</span><span class="badge">${escapeHtml(c.dtype)}</span></h3>${statsTable(c)}<div class="chart">${histograms[i]}</div></div>`).join('\n')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>rps data profile — ${escapeHtml(p.dataset.location)}</title><style>${REPORT_CSS}</style></head>
<body>
<header><h1>rps data profile — ${escapeHtml(p.dataset.location)}</h1>
<p>Target ${escapeHtml(p.dataset.target)}, horizon ${p.dataset.horizonHours} h (label: ${p.dataset.targetMode}) · generated ${escapeHtml(p.generatedAt)} · dataset sha256 ${escapeHtml(p.dataset.sha256.slice(0, 12))}</p>
<nav><a href="#overview">Overview</a><a href="#quality">Quality</a><a href="#coverage">Coverage</a><a href="#correlations">Correlations</a><a href="#columns">Columns</a></nav></header>
<main>
<section id="overview"><h2>Overview</h2><div class="cards">${cards.map(([k, v]) => `<div class="card"><div class="k">${k}</div><div class="v">${escapeHtml(v)}</div></div>`).join('')}</div></section>
<section id="quality"><h2>Quality gate</h2>${qualitySection(p)}</section>
<section id="coverage"><h2>Time coverage</h2><p>${p.coverage.length} day(s) of history, ${incompleteDays.length} with fewer than 24 observed hours (red ticks).</p><div class="chart">${coverageSvg}</div>
${gapRows ? `<h3>Unfilled gaps</h3><table><tr><th>variable</th><th>from</th><th>to</th><th>hours</th></tr>${gapRows}</table>` : '<p class="muted">No unfilled gaps.</p>'}</section>
<section id="correlations"><h2>Correlations</h2><div class="chart">${corrSvg}</div><div class="chart">${corrTargetSvg}</div>
<table><tr><th>feature</th><th>r with y</th><th>r with target(t+h)</th></tr>${corrRows}</table></section>
<section id="columns"><h2>Columns</h2><div class="cols">${columnCards}</div></section>
</main></body></html>
`
}
