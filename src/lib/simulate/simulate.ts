import {mkdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import type {Params} from '../config/params.js'
import {ConfigError} from '../errors.js'
import {type DriftSettings, driftSettings} from '../drift/detect.js'
import {type PathRules, pathRules} from '../model/compare.js'
import {type ModelSection, modelSection} from '../model/settings.js'
import {parseReplayShifts} from '../sources/replay.js'
import {writeFileAtomic} from '../util/atomic-file.js'
import {codeVersion, rpsVersion} from '../util/versions.js'
import {fanChartPng} from '../model/plots.js'
import {aciSettings} from '../features/config.js'
import {sampleFanPaths, simulationPlotPng} from './plot.js'
import {type ChangePoint, type SimulationSummary, rollingRmse, summarize} from './report.js'
import {type PolicySpec, policyName, simulate} from './run.js'
import {replayedSeries} from './series.js'

const DAY_MS = 86_400_000

/** params.yaml `simulate`. */
export interface SimulateSection {
  year: number
  initial_days: number
  check_every_hours: number
  periodic_every_hours: number[]
  model?: Partial<Pick<ModelSection, 'n_estimators' | 'max_samples' | 'max_depth' | 'workers'>>
}

export interface SimulateOptions {
  shift?: string
  policies?: string[]
  /** Replay only the first `days` of the year (tests, quick looks). */
  days?: number
  outDir: string
  env?: NodeJS.ProcessEnv
  onProgress?: (line: string) => void
}

export interface SimulateResult extends SimulationSummary {
  createdAt: string
  series: {from: string; to: string; rows: number; shift: string | null; changePoints: ChangePoint[]}
  settings: {simulate: SimulateSection; model: ModelSection; drift: DriftSettings; rules: PathRules}
  durationSeconds: number
  report: {json: string; markdown: string; plot: string; fan: string}
}

export function simulateSection(params: Params): SimulateSection {
  if (!params.simulate) throw new ConfigError('params.yaml has no simulate section')
  return params.simulate as SimulateSection
}

function policySpecs(section: SimulateSection, names: string[] | undefined): PolicySpec[] {
  const all: PolicySpec[] = [{kind: 'static'}, ...section.periodic_every_hours.map((everyHours): PolicySpec => ({kind: 'periodic', everyHours})), {kind: 'drift'}]
  for (const s of all) {
    if (s.kind === 'periodic' && s.everyHours % section.check_every_hours !== 0) {
      throw new ConfigError(`simulate.periodic_every_hours ${s.everyHours} is not a multiple of check_every_hours ${section.check_every_hours}`)
    }
  }
  if (!names?.length) return all
  const byName = new Map(all.map((s) => [policyName(s), s]))
  return names.map((n) => {
    const spec = byName.get(n)
    if (!spec) throw new ConfigError(`unknown policy '${n}'; known: ${[...byName.keys()].join(', ')}`)
    return spec
  })
}

function triggerCounts(events: {trigger: string}[]): string {
  const counts = new Map<string, number>()
  for (const e of events) counts.set(e.trigger, (counts.get(e.trigger) ?? 0) + 1)
  return [...counts].map(([k, n]) => `${k} ${n}`).join(', ')
}

function markdown(r: SimulateResult): string {
  const f = (x: number | null) => (x === null ? '–' : x.toFixed(3))
  const pct = (x: number | undefined) => (x === undefined ? '–' : (x * 100).toFixed(1))
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
  const horizons = r.baselines.map((b) => b.horizon)
  const longest = horizons.at(-1)
  const levels = Object.keys(r.policies[0]?.horizons[0]?.bands ?? {})
  const lines = [
    `# rps simulate: retraining policies on the replayed year`,
    '',
    `Series ${r.series.from.slice(0, 10)} .. ${r.series.to.slice(0, 10)}${r.series.shift ? `, injected change: \`${r.series.shift}\`` : ' (as recorded)'}; models serve from ${r.servingFrom.slice(0, 10)}; ${r.hoursScored} hourly forecasts scored per policy.`,
    '',
    `Policies are judged by their mean RMSE over the horizons (+${horizons.join(', +')} h); challengers pass rps compare's gate (mean RMSE within ${r.settings.rules.toleranceRmse} °C, no horizon worse by more than ${Math.max(r.settings.rules.horizonToleranceRmse, r.settings.rules.toleranceRmse)} °C, honest band coverage within ${r.settings.rules.coverageTolerance} of its level).`,
    '',
    `| policy | mean RMSE over the path (°C) | +${longest} h RMSE | +${longest} h MAE | retrains | promotions |`,
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...r.policies.map((p) => `| ${p.name} | ${f(p.meanRmse)} | ${f(p.overall.rmse)} | ${f(p.overall.mae)} | ${p.retrains} | ${p.promotions} |`),
    `| persistence (reference) | ${f(mean(r.baselines.map((b) => b.persistence.rmse)))} | ${f(r.persistence.overall.rmse)} | ${f(r.persistence.overall.mae)} | – | – |`,
    `| seasonal naive (reference) | ${f(mean(r.baselines.map((b) => b.seasonal.rmse)))} | ${f(r.baselines.at(-1)!.seasonal.rmse)} | ${f(r.baselines.at(-1)!.seasonal.mae)} | – | – |`,
    '',
    '## Every horizon: RMSE (°C)',
    '',
    `| horizon | ${r.policies.map((p) => p.name).join(' | ')} | persistence | seasonal naive |`,
    `| --- |${r.policies.map(() => ' ---: |').join('')} ---: | ---: |`,
    ...r.baselines.map((b, k) => `| +${b.horizon} h | ${r.policies.map((p) => f(p.horizons[k]!.scores.rmse)).join(' | ')} | ${f(b.persistence.rmse)} | ${f(b.seasonal.rmse)} |`),
    '',
    '## Every horizon: band coverage, calibrated (split conformal) / live (adaptive, as rps serve answers)',
    '',
    `| policy | band | ${horizons.map((h) => `+${h} h`).join(' | ')} | live, worst month | live mean width / RMSE |`,
    `| --- | --- |${horizons.map(() => ' ---: |').join('')} ---: | ---: |`,
    ...r.policies.flatMap((p) => levels.map((level) => {
      const worst = p.horizons.flatMap((o) => o.bands[level]?.liveMonthly ?? []).reduce<{month: string; coverage: number} | null>((w, m) => (w === null || Math.abs(m.coverage - Number(level)) > Math.abs(w.coverage - Number(level)) ? m : w), null)
      const ratio = Math.max(...p.horizons.map((o) => (2 * (o.bands[level]?.liveMeanHalfWidth ?? NaN)) / o.scores.rmse))
      return `| ${p.name} | ${Number(level) * 100} % | ${p.horizons.map((o) => `${pct(o.bands[level]?.staticCoverage)} / ${pct(o.bands[level]?.liveCoverage)}`).join(' | ')} | ${worst ? `${pct(worst.coverage)} (${worst.month})` : '–'} | ≤ ${ratio.toFixed(2)} |`
    })),
    '',
    'Width / RMSE: the band\'s full width over the horizon\'s RMSE, the largest over the horizons (a Gaussian 80 % band is 2.56 × σ wide).',
    '',
    '![sample fan chart](simulate-fan.png)',
    '',
    ...r.policies.filter((p) => p.driftChecks > 0).map((p) => `${p.name}: ${p.driftChecks} drift checks; data drift (window PSI) in ${p.dataDriftChecks}, concept drift (error signals) in ${p.conceptDriftChecks}; retrain triggers: ${triggerCounts(p.events) || 'none'}.`),
    '',
    '## Monthly RMSE (°C)',
    '',
    `| month | ${r.policies.map((p) => p.name).join(' | ')} | persistence |`,
    `| --- |${r.policies.map(() => ' ---: |').join('')} ---: |`,
    // A trailing month of a few hours (targets past the year's end) says nothing: months under 3 days are left out.
    ...r.persistence.monthly.flatMap((m, i) => m.n < 72 ? [] : `| ${m.month} | ${r.policies.map((p) => f(p.monthly[i]?.rmse ?? null)).join(' | ')} | ${f(m.rmse)} |`),
  ]
  for (const cp of r.series.changePoints) {
    lines.push('', `## Change point ${cp.at.slice(0, 16)}: ${cp.description}`, '',
      'RMSE (°C) and, in brackets, skill vs persistence in the same hours (1 − RMSE/RMSE_persistence: comparable across the change).', '',
      '| policy | drift detected after (h) | first promotion | 28 d before | 0–7 d after | 7–14 d | 14–28 d | 28–56 d |', '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |')
    for (const p of r.policies) {
      const o = p.changePoints.find((c) => c.changePoint.at === cp.at)!
      const cell = (k: keyof typeof o.rmse) => `${f(o.rmse[k])} (${o.skill[k] === null ? '–' : o.skill[k]!.toFixed(2)})`
      lines.push(`| ${p.name} | ${o.driftDetectionDelayHours ?? '–'} | ${o.firstPromotionAt?.slice(0, 16) ?? '–'} | ${cell('before28d')} | ${cell('after0to7d')} | ${cell('after7to14d')} | ${cell('after14to28d')} | ${cell('after28to56d')} |`)
    }
  }
  lines.push('', '![rolling RMSE](simulate.png)', '')
  return lines.join('\n')
}

/**
 * Replays the shipped year (optionally with an injected change) through the pipeline's functions
 * and compares the retraining policies on it: static, periodic, drift-triggered.
 */
export async function runSimulation(params: Params, options: SimulateOptions): Promise<SimulateResult> {
  const started = performance.now()
  const env = options.env ?? process.env
  const section = simulateSection(params)
  const model: ModelSection = {...modelSection(params), ...section.model}
  const drift = driftSettings(params)
  const rules = pathRules(params)
  const from = new Date(Date.UTC(section.year, 0, 1))
  const to = options.days ? new Date(from.getTime() + options.days * DAY_MS) : new Date(Date.UTC(section.year + 1, 0, 1))
  const policies = policySpecs(section, options.policies)
  const shifts = parseReplayShifts(options.shift)
  const changePoints: ChangePoint[] = shifts.map((s) => ({at: new Date(s.fromMs).toISOString(), description: `${s.variable} ${s.op === '*' ? `×${s.amount}` : `${s.amount >= 0 ? '+' : ''}${s.amount}`}`}))
  const series = await replayedSeries(params, from, to, options.shift, env)
  const code = await codeVersion(env)
  const run = await simulate(series, {
    servingStart: from.getTime() + section.initial_days * DAY_MS,
    checkEveryHours: section.check_every_hours,
    policies,
    section: model,
    drift,
    rules,
    provenance: {dataVersion: 'replay', codeVersion: code, rpsVersion: rpsVersion()},
    onProgress: options.onProgress,
  })
  const summary = summarize(run, changePoints, aciSettings(params))
  await mkdir(options.outDir, {recursive: true})
  const report = {json: join(options.outDir, 'simulate.json'), markdown: join(options.outDir, 'simulate.md'), plot: join(options.outDir, 'simulate.png'), fan: join(options.outDir, 'simulate-fan.png')}
  const result: SimulateResult = {
    createdAt: new Date().toISOString(),
    series: {from: from.toISOString(), to: to.toISOString(), rows: series.rows.time.length, shift: series.shift, changePoints},
    settings: {simulate: section, model, drift, rules},
    ...summary,
    durationSeconds: (performance.now() - started) / 1000,
    report,
  }
  const title = `Retraining policies on the replayed year${series.shift ? ` with ${changePoints.map((c) => `${c.description} from ${c.at.slice(0, 10)}`).join(', ')}` : ''}`
  await writeFile(report.plot, await simulationPlotPng(rollingRmse(run, 7), summary.policies, changePoints, title))
  const sampled = run.policies.find((p) => p.spec.kind === 'drift') ?? run.policies.at(-1)!
  const fan = sampleFanPaths(run, sampled)
  await writeFile(report.fan, await fanChartPng(fan.paths, fan.observed, `${sampled.name}: forecast paths and bands over the last three days`))
  await writeFileAtomic(report.markdown, markdown(result))
  await writeFileAtomic(report.json, JSON.stringify(result, null, 2) + '\n')
  return result
}
