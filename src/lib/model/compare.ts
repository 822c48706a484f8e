import {existsSync} from 'node:fs'
import {mkdir, writeFile} from 'node:fs/promises'
import {join, relative} from 'node:path'

import type {Params} from '../config/params.js'
import {RpsError} from '../errors.js'
import {buildFeatures, trainingRows} from '../features/build-features.js'
import {datasetLocation, openDataset} from '../features/dataset-store.js'
import {readHistory} from '../features/featurize.js'
import {MlflowClient} from '../mlflow/client.js'
import {writeFileAtomic} from '../util/atomic-file.js'
import {type ModelRows, forHorizon, selectRows, toModelRows} from './dataset.js'
import {absResiduals, coverage, honestCoverage, levelKey} from '../stats/intervals.js'
import {type Scores, score} from './metrics.js'
import {type LoadedModel, loadModelDir, modelHorizons} from './model-dir.js'
import {type FanPath, fanChartPng, forecastPlotPng, residualsPlotPng} from './plots.js'
import {ALIASES, COMPARE_REPORT_TAG, type RegistryModel, candidateAlias, loadAlias, REGISTRY_STAMP_FILE, readRegistryStamp} from './registry.js'
import {modelSection} from './settings.js'

const HOUR_MS = 3_600_000
const DAY_MS = 86_400_000

export type Decision = 'challenger_wins' | 'challenger_loses' | 'no_champion' | 'same_version'

export interface CompareResult {
  decision: Decision
  passed: boolean
  registeredModel: string
  /** `alias`: the alias the challenger was read from (challenger, or a candidate such as pr-42). */
  challenger: {version: string; alias: string; runId: string | undefined; scores: Scores}
  champion: {version: string; runId: string | undefined; scores: Scores} | null
  baselines: {persistence: Scores; seasonal: Scores}
  holdout: {start: string; end: string; rows: number}
  /** Mean RMSE change over the compared horizons (the path); with one horizon, that horizon's. */
  deltaRmse: number | null
  toleranceRmse: number
  /** The whole path: every horizon both models forecast, scored on the same rows. */
  path: PathComparison
  report: {markdown: string; json: string; plots: string[]}
}

export interface PathComparison {
  horizons: number[]
  challengerRmse: Record<string, number>
  championRmse: Record<string, number> | null
  persistenceRmse: Record<string, number>
  /** The challenger's band coverage on these rows, per horizon and level (empty without calibration). */
  challengerCoverage: Record<string, Record<string, number>>
  /** Its honest holdout coverage (what the coverage rule judges), and whether it had enough rows to be judged. */
  challengerHoldoutCoverage: Record<string, Record<string, number>>
  /** The champion's honest coverage on the same rows (bands from their first half, scored on the second): the floor when lower than the level. */
  championHoldoutCoverage: Record<string, Record<string, number>>
  coverageGated: boolean
  challengerMeanRmse: number
  championMeanRmse: number | null
  horizonToleranceRmse: number
  coverageTolerance: number
  /** Why the challenger loses, one line per broken rule (empty when it wins). */
  failures: string[]
}

/** Each model's own features (its saved feature config) rebuilt from the same observation history. */
export async function rowsFor(model: LoadedModel, env: NodeJS.ProcessEnv): Promise<ModelRows> {
  const root = datasetLocation(env)
  const cfg = model.meta.featureConfig
  const history = await readHistory(await openDataset(root), cfg.variables)
  if (!history.table) throw new RpsError(`no observation history in ${root}`, {code: 'NO_DATASET', suggestions: ['run: rps featurize']})
  // The model's own horizons (older configurations have none: the one).
  const withHorizons = {...cfg, horizons: modelHorizons(model.meta)}
  return toModelRows(trainingRows(buildFeatures(history.table, withHorizons)), model.meta.features, model.meta.target, withHorizons.horizons, cfg.horizonHours)
}

/** Rows of the holdout's second half a band's coverage is judged on, at least (4 days of hours). */
export const MIN_COVERAGE_ROWS = 96

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4
}

/** The challenger's paths issued every 12 h over the holdout's last three days. */
export function fanPaths(model: LoadedModel, rows: ModelRows): FanPath[] {
  const last = rows.time.at(-1)!
  const issued = rows.time.map((t, i) => [t, i] as const).filter(([t]) => t > last - 3 * DAY_MS && (last - t) % (12 * HOUR_MS) === 0)
  const calibration = model.meta.calibration
  return issued.map(([t, i]) => ({
    issued: t,
    points: model.horizons.map((h) => {
      const value = model.predictOneAt(h, rows.X[i]!, rows.current[i]!)
      const widths = calibration?.halfWidth[String(h)] ?? {}
      return {time: t + h * HOUR_MS, value, bands: (calibration?.levels ?? []).map((level) => ({level, lower: value - widths[levelKey(level)]!, upper: value + widths[levelKey(level)]!})).reverse()}
    }),
  }))
}

/** What was observed over the holdout's last three days: each row's own hour, and past the newest row the longest horizon's targets. */
function observedTargets(rows: ModelRows, longestHours: number): {time: number; value: number}[] {
  const last = rows.time.at(-1)!
  const observed = new Map<number, number>()
  rows.time.forEach((t, i) => {
    if (t > last - 3 * DAY_MS) observed.set(t, rows.current[i]!)
    if (t + longestHours * HOUR_MS > last && t > last - 3 * DAY_MS) observed.set(t + longestHours * HOUR_MS, rows.actual[i]!)
  })
  return [...observed].sort((a, b) => a[0] - b[0]).map(([time, value]) => ({time, value}))
}

export interface PathRules {
  toleranceRmse: number
  horizonToleranceRmse: number
  coverageTolerance: number
}

/** params.yaml `compare`, each rule overridable (command-line flags). rps compare and rps simulate judge by it. */
export function pathRules(params: Params, overrides: Partial<PathRules> = {}): PathRules {
  const section = (params.compare ?? {}) as {tolerance_rmse?: number; horizon_tolerance_rmse?: number; coverage_tolerance?: number}
  return {
    toleranceRmse: overrides.toleranceRmse ?? section.tolerance_rmse ?? 0,
    horizonToleranceRmse: overrides.horizonToleranceRmse ?? section.horizon_tolerance_rmse ?? 0.1,
    coverageTolerance: overrides.coverageTolerance ?? section.coverage_tolerance ?? 0.15,
  }
}

/**
 * The whole-path gate: over the horizons both models forecast, the challenger loses when its mean
 * RMSE exceeds the champion's by more than `toleranceRmse`, when any one horizon is worse by more
 * than `horizonToleranceRmse`, or when one of its bands covers less than its level minus
 * `coverageTolerance` of these rows (too wide a band is no failure: only a band that promises more
 * than it keeps). Without a champion only the coverage rule applies, and it is reported, not gated.
 */
export function judgePath(challenger: LoadedModel, champion: LoadedModel | undefined, rows: ModelRows, championRows: ModelRows | undefined, rules: PathRules): PathComparison {
  const championHorizons = champion ? new Set(modelHorizons(champion.meta)) : undefined
  const horizons = modelHorizons(challenger.meta).filter((h) => !championHorizons || championHorizons.has(h))
  const challengerRmse: Record<string, number> = {}
  const championRmse: Record<string, number> = {}
  const persistenceRmse: Record<string, number> = {}
  const challengerCoverage: Record<string, Record<string, number>> = {}
  const failures: string[] = []
  // One horizon is never held to less slack than the whole path.
  const horizonSlack = Math.max(rules.horizonToleranceRmse, rules.toleranceRmse)
  for (const h of horizons) {
    const r = forHorizon(rows, h)
    const predicted = challenger.predictHorizon(h, r.X, r.current)
    challengerRmse[h] = score(r.actual, predicted).rmse
    persistenceRmse[h] = score(r.actual, r.current).rmse
    if (champion && championRows) {
      const c = forHorizon(championRows, h)
      championRmse[h] = score(c.actual, champion.predictHorizon(h, c.X, c.current)).rmse
      if (challengerRmse[h] > championRmse[h] + horizonSlack) {
        failures.push(`+${h} h RMSE ${challengerRmse[h].toFixed(3)} vs ${championRmse[h].toFixed(3)} (horizon tolerance ${horizonSlack})`)
      }
    }
    const widths = challenger.meta.calibration?.halfWidth[String(h)]
    if (widths) {
      const residuals = absResiduals(predicted, r.actual)
      challengerCoverage[h] = Object.fromEntries(Object.entries(widths).map(([level, w]) => [level, coverage(residuals, w)]))
    }
  }
  // Coverage is gated on the challenger's honest holdout coverage (bands from its holdout's first half, scored on
  // the second): the rows compared here are usually the very rows its bands were calibrated on, where coverage is
  // ⌈(n+1)·level⌉/n by construction. Too few rows say nothing about a band: reported, not gated.
  const calibration = challenger.meta.calibration
  const honestRows = calibration ? calibration.rows - Math.floor(calibration.rows / 2) : 0
  const coverageGated = champion !== undefined && calibration !== undefined && honestRows >= MIN_COVERAGE_ROWS
  // The champion's honest coverage on the same rows, the same way: when a change in the weather makes both models'
  // bands too narrow on the holdout's second half, that is the data, not a fault of the challenger. Judging the
  // challenger against its level alone blocked the retrain right after a change, exactly when it is needed.
  const championHoldoutCoverage: Record<string, Record<string, number>> = {}
  if (coverageGated && championRows) {
    for (const h of horizons) {
      const c = forHorizon(championRows, h)
      const residuals = absResiduals(champion.predictHorizon(h, c.X, c.current), c.actual)
      championHoldoutCoverage[h] = Object.fromEntries(calibration.levels.map((level) => [levelKey(level), honestCoverage(residuals, level)]))
    }
  }
  if (coverageGated) {
    for (const h of horizons) {
      for (const level of calibration.levels) {
        const c = calibration.holdoutCoverage[String(h)]?.[levelKey(level)]
        const championCovered = championHoldoutCoverage[h]?.[levelKey(level)]
        const floor = championCovered !== undefined && Number.isFinite(championCovered) ? Math.min(level, championCovered) : level
        if (c !== undefined && Number.isFinite(c) && c < floor - rules.coverageTolerance) {
          failures.push(`+${h} h ${levelKey(level)} band covered ${c.toFixed(3)} of its holdout (< ${floor === level ? level : `the champion's ${floor.toFixed(3)}`} - ${rules.coverageTolerance})`)
        }
      }
    }
  }
  const mean = (by: Record<string, number>) => round4(horizons.reduce((sum, h) => sum + by[h]!, 0) / horizons.length)
  const challengerMeanRmse = mean(challengerRmse)
  const championMeanRmse = champion ? mean(championRmse) : null
  if (championMeanRmse !== null && challengerMeanRmse > championMeanRmse + rules.toleranceRmse) {
    failures.unshift(`mean RMSE over +${horizons.join(',')} h ${challengerMeanRmse.toFixed(3)} vs ${championMeanRmse.toFixed(3)} (tolerance ${rules.toleranceRmse})`)
  }
  // Rounded: the verdict is recorded in an MLflow tag (at most 5,000 characters).
  const rounded = (by: Record<string, number>) => Object.fromEntries(Object.entries(by).map(([k, v]) => [k, round4(v)]))
  return {
    horizons, challengerRmse: rounded(challengerRmse), championRmse: champion ? rounded(championRmse) : null, persistenceRmse: rounded(persistenceRmse),
    challengerCoverage: Object.fromEntries(Object.entries(challengerCoverage).map(([h, c]) => [h, rounded(c)])),
    challengerHoldoutCoverage: Object.fromEntries(Object.entries(calibration?.holdoutCoverage ?? {}).filter(([h]) => horizons.includes(Number(h))).map(([h, c]) => [h, rounded(c)])),
    championHoldoutCoverage: Object.fromEntries(Object.entries(championHoldoutCoverage).map(([h, c]) => [h, rounded(c)])),
    coverageGated,
    challengerMeanRmse, championMeanRmse, horizonToleranceRmse: rules.horizonToleranceRmse, coverageTolerance: rules.coverageTolerance, failures,
  }
}

/**
 * Scores challenger and champion on identical rows: the freshest `holdoutDays` of the current
 * observation history, features rebuilt for each model with its own saved configuration.
 */
export async function scoreOnSameHoldout(challenger: LoadedModel, champion: LoadedModel | undefined, holdoutDays: number, env: NodeJS.ProcessEnv) {
  if (champion && (champion.meta.target !== challenger.meta.target || champion.meta.horizonHours !== challenger.meta.horizonHours)) {
    throw new RpsError(`cannot compare: challenger forecasts ${challenger.meta.target} at +${challenger.meta.horizonHours} h, champion ${champion.meta.target} at +${champion.meta.horizonHours} h`, {code: 'INCOMPARABLE'})
  }
  const challengerRows = await rowsFor(challenger, env)
  const championRows = champion ? await rowsFor(champion, env) : undefined
  const end = challengerRows.time.at(-1)! + HOUR_MS
  const start = end - holdoutDays * DAY_MS
  let common = new Set(challengerRows.time.filter((t) => t >= start))
  if (championRows) {
    const champ = new Set(championRows.time)
    common = new Set([...common].filter((t) => champ.has(t)))
  }
  if (common.size === 0) throw new RpsError('no holdout rows that both models can score', {code: 'NO_HOLDOUT'})
  const ch = selectRows(challengerRows, (t) => common.has(t))
  const cp = championRows ? selectRows(championRows, (t) => common.has(t)) : undefined
  const challengerPred = challenger.predict(ch.X, ch.current)
  const championPred = champion && cp ? champion.predict(cp.X, cp.current) : undefined
  return {rows: ch, championRows: cp, challengerPred, championPred, start, end}
}

/** The gate: the challenger loses when its RMSE on the shared holdout exceeds the champion's by more than `tolerance`. */
export function compareDecision(challenger: Scores, champion: Scores | undefined, sameVersion: boolean, tolerance: number): Decision {
  if (!champion) return 'no_champion'
  if (sameVersion) return 'same_version'
  return challenger.rmse > champion.rmse + tolerance ? 'challenger_loses' : 'challenger_wins'
}

function fmt(x: number): string {
  return x.toFixed(3)
}

function pathTable(r: Omit<CompareResult, 'report'>): string[] {
  const p = r.path
  const levels = Object.keys(Object.values(p.challengerHoldoutCoverage)[0] ?? {})
  return [
    `## Every horizon`,
    '',
    `Rules: mean RMSE over the path within ${r.toleranceRmse} °C of the champion's, no horizon worse by more than ${Math.max(p.horizonToleranceRmse, r.toleranceRmse)} °C, each band's honest holdout coverage (bands from the holdout's first half, scored on its second) at least its level minus ${p.coverageTolerance}, or the champion's own honest coverage on these rows minus as much when that is lower (a change that narrows both models' bands is not the challenger's fault)${p.coverageGated ? '' : ` — not gated here: fewer than ${MIN_COVERAGE_ROWS} rows, or no champion`}.`,
    '',
    `| horizon | challenger RMSE | champion RMSE | persistence RMSE |${levels.map((l) => ` ${Number(l) * 100} % band holdout coverage |`).join('')}`,
    `| --- | ---: | ---: | ---: |${levels.map(() => ' ---: |').join('')}`,
    ...p.horizons.map((h) => `| +${h} h | ${fmt(p.challengerRmse[h]!)} | ${p.championRmse ? fmt(p.championRmse[h]!) : '–'} | ${fmt(p.persistenceRmse[h]!)} |${levels.map((l) => ` ${fmt(p.challengerHoldoutCoverage[h]?.[l] ?? NaN)}${p.championHoldoutCoverage[h]?.[l] === undefined ? '' : ` (champion ${fmt(p.championHoldoutCoverage[h]![l]!)})`} |`).join('')}`),
    `| mean | ${fmt(p.challengerMeanRmse)} | ${p.championMeanRmse === null ? '–' : fmt(p.championMeanRmse)} | |${levels.map(() => ' |').join('')}`,
    ...(p.failures.length ? ['', 'The challenger loses because:', ...p.failures.map((f) => `- ${f}`)] : []),
  ]
}

function markdownReport(r: Omit<CompareResult, 'report'>, plots: string[]): string {
  const verdict = {
    challenger_wins: `✅ **Challenger v${r.challenger.version} wins** (mean RMSE over the path ${fmt(r.path.challengerMeanRmse)} vs ${fmt(r.path.championMeanRmse ?? NaN)}).`,
    challenger_loses: `❌ **Challenger v${r.challenger.version} loses** to champion v${r.champion?.version}: ${r.path.failures.join('; ')}.`,
    no_champion: `✅ **No champion yet**: challenger v${r.challenger.version} wins by default.`,
    same_version: `ℹ️ Challenger v${r.challenger.version} is already the champion.`,
  }[r.decision]
  const row = (name: string, s: Scores) => `| ${name} | ${fmt(s.rmse)} | ${fmt(s.mae)} | ${fmt(s.r2)} |`
  const lines = [
    `# Model comparison: ${r.registeredModel}`,
    '',
    verdict,
    '',
    `Both models scored on the same ${r.holdout.rows} hourly rows: targets from ${r.holdout.start} to ${r.holdout.end} (the freshest data), features rebuilt for each model from the same observation history.`,
    '',
    '| forecast | RMSE (°C) | MAE (°C) | R² |',
    '| --- | ---: | ---: | ---: |',
    row(`challenger v${r.challenger.version}`, r.challenger.scores),
    ...(r.champion ? [row(`champion v${r.champion.version}`, r.champion.scores)] : []),
    row('persistence (value at t)', r.baselines.persistence),
    row('seasonal (value at t+h−24)', r.baselines.seasonal),
    '',
    r.deltaRmse === null ? '' : `Mean RMSE change over the path vs champion: ${r.deltaRmse >= 0 ? '+' : ''}${fmt(r.deltaRmse)} °C (tolerance ${r.toleranceRmse}).`,
    '',
    ...pathTable(r),
    '',
    ...plots.map((p) => `![${p.replace(/\.png$/, '')}](${p})`),
    '',
  ]
  return lines.join('\n')
}

export interface CompareOptions {
  env?: NodeJS.ProcessEnv
  outDir: string
  toleranceRmse?: number
  horizonToleranceRmse?: number
  coverageTolerance?: number
  /** The alias to score against @champion (default challenger; a pull request's candidate: pr-<number>). */
  challengerAlias?: string
  /**
   * The champion from this model directory (as `rps export-model` writes it) instead of the
   * registry's @champion: CI compares against production's champion without any access to production's registry.
   */
  championDir?: string
}

/** A model directory as the champion: its version from the export's stamp (registry.json). */
export async function championFromDir(dir: string, registeredName: string): Promise<RegistryModel> {
  const model = await loadModelDir(dir)
  const stamp = await readRegistryStamp(dir)
  if (stamp && stamp.name !== registeredName) throw new RpsError(`${dir} holds a version of '${stamp.name}', not of '${registeredName}'`, {code: 'INCOMPARABLE'})
  if (!stamp?.version) throw new RpsError(`${dir} has no ${REGISTRY_STAMP_FILE} with its version: export it with rps export-model`, {code: 'MODEL_INVALID', suggestions: [`run: rps export-model --alias champion --out ${dir}`]})
  return {version: {name: registeredName, version: stamp.version, source: dir}, model}
}

/** MLflow tag values hold at most 5,000 characters: the report without its local paths fits. */
const MAX_TAG_CHARS = 4900

/** Challenger vs champion on the same freshest holdout; the report is written before any verdict is acted on. */
export async function compareModels(params: Params, options: CompareOptions): Promise<CompareResult> {
  const env = options.env ?? process.env
  const section = modelSection(params)
  const rules = pathRules(params, options)
  const tolerance = rules.toleranceRmse
  const client = MlflowClient.fromEnv(env)
  const alias = candidateAlias(options.challengerAlias ?? ALIASES.challenger)
  const challenger = await loadAlias(client, section.registered_name, alias)
  if (!challenger) throw new RpsError(`no @${alias} version of '${section.registered_name}'`, {code: 'NO_CHALLENGER', suggestions: [alias === ALIASES.challenger ? 'run: rps train' : `run: rps train --alias ${alias}`]})
  const champion: RegistryModel | undefined = options.championDir
    ? await championFromDir(options.championDir, section.registered_name)
    : await loadAlias(client, section.registered_name, ALIASES.champion)
  const scored = await scoreOnSameHoldout(challenger.model, champion?.model, section.holdout_days, env)
  const rows = scored.rows
  const challengerScores = score(rows.actual, scored.challengerPred)
  const championScores = scored.championPred ? score(rows.actual, scored.championPred) : undefined
  const path = judgePath(challenger.model, champion?.model, rows, scored.championRows, rules)
  // A champion directory's version number is another registry's: never "the same version" as the challenger.
  const sameVersion = !options.championDir && champion?.version.version === challenger.version.version
  const decision: Decision = !champion ? 'no_champion' : sameVersion ? 'same_version' : path.failures.length ? 'challenger_loses' : 'challenger_wins'
  const h = challenger.model.meta.horizonHours * HOUR_MS
  await mkdir(options.outDir, {recursive: true})
  const points = rows.time.flatMap((t, i) => [
    {time: t + h, series: 'actual', value: rows.actual[i]!},
    {time: t + h, series: `challenger v${challenger.version.version}`, value: scored.challengerPred[i]!},
    ...(scored.championPred ? [{time: t + h, series: `champion v${champion!.version.version}`, value: scored.championPred[i]!}] : []),
  ])
  const plots = ['forecast_vs_actual.png', 'residuals.png', 'fan_chart.png']
  await writeFile(join(options.outDir, plots[0]!), await forecastPlotPng(points, 'Challenger vs champion on the same holdout'))
  const residuals = rows.time.flatMap((_, i) => [
    {series: `challenger v${challenger.version.version}`, residual: scored.challengerPred[i]! - rows.actual[i]!},
    ...(scored.championPred ? [{series: `champion v${champion!.version.version}`, residual: scored.championPred[i]! - rows.actual[i]!}] : []),
  ])
  await writeFile(join(options.outDir, plots[1]!), await residualsPlotPng(residuals, 'Holdout residuals'))
  await writeFile(join(options.outDir, plots[2]!), await fanChartPng(fanPaths(challenger.model, rows), observedTargets(rows, challenger.model.meta.horizonHours), `Challenger v${challenger.version.version}: forecast paths and bands, the holdout's last three days`))
  const base: Omit<CompareResult, 'report'> = {
    decision,
    passed: decision !== 'challenger_loses',
    registeredModel: section.registered_name,
    challenger: {version: challenger.version.version, alias, runId: challenger.version.run_id, scores: challengerScores},
    champion: champion ? {version: champion.version.version, runId: champion.version.run_id, scores: championScores!} : null,
    baselines: {persistence: score(rows.actual, rows.current), seasonal: score(rows.actual, rows.seasonal)},
    holdout: {start: new Date(rows.time[0]! + h).toISOString(), end: new Date(rows.time.at(-1)! + h).toISOString(), rows: rows.time.length},
    deltaRmse: path.championMeanRmse === null ? null : path.challengerMeanRmse - path.championMeanRmse,
    toleranceRmse: tolerance,
    path,
  }
  const markdown = join(options.outDir, 'report.md')
  const json = join(options.outDir, 'report.json')
  const result: CompareResult = {...base, report: {markdown, json, plots: plots.map((p) => join(options.outDir, p))}}
  await writeFileAtomic(markdown, markdownReport(base, plots))
  await writeFileAtomic(json, JSON.stringify(result, null, 2) + '\n')
  if (!existsSync(markdown)) throw new Error(`report not written: ${relative(process.cwd(), markdown)}`)
  // Recorded on the version it scored (never on the champion): a later `rps promote --from-alias`,
  // in another job or on another machine, gates on exactly this verdict. Not against a champion
  // directory: that champion is not this registry's, and promote must not mistake it for @champion.
  const recorded = JSON.stringify(base)
  if (!options.championDir && decision !== 'same_version' && recorded.length <= MAX_TAG_CHARS) await client.setModelVersionTag(section.registered_name, challenger.version.version, COMPARE_REPORT_TAG, recorded)
  return result
}
