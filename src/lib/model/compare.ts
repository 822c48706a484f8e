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
import {type ModelRows, selectRows, toModelRows} from './dataset.js'
import {type Scores, score} from './metrics.js'
import {type LoadedModel, loadModelDir} from './model-dir.js'
import {forecastPlotPng, residualsPlotPng} from './plots.js'
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
  deltaRmse: number | null
  toleranceRmse: number
  report: {markdown: string; json: string; plots: string[]}
}

/** Each model's own features (its saved feature config) rebuilt from the same observation history. */
export async function rowsFor(model: LoadedModel, env: NodeJS.ProcessEnv): Promise<ModelRows> {
  const root = datasetLocation(env)
  const cfg = model.meta.featureConfig
  const history = await readHistory(await openDataset(root), cfg.variables)
  if (!history.table) throw new RpsError(`no observation history in ${root}`, {code: 'NO_DATASET', suggestions: ['run: rps featurize']})
  return toModelRows(trainingRows(buildFeatures(history.table, cfg)), model.meta.features, model.meta.target)
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
  return {rows: ch, challengerPred, championPred, start, end}
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

function markdownReport(r: Omit<CompareResult, 'report'>, plots: string[]): string {
  const verdict = {
    challenger_wins: `✅ **Challenger v${r.challenger.version} wins** (RMSE ${fmt(r.challenger.scores.rmse)} vs ${fmt(r.champion?.scores.rmse ?? NaN)}).`,
    challenger_loses: `❌ **Challenger v${r.challenger.version} loses**: RMSE ${fmt(r.challenger.scores.rmse)} is worse than champion v${r.champion?.version}'s ${fmt(r.champion?.scores.rmse ?? NaN)} by more than the tolerance (${r.toleranceRmse}).`,
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
    r.deltaRmse === null ? '' : `RMSE change vs champion: ${r.deltaRmse >= 0 ? '+' : ''}${fmt(r.deltaRmse)} °C (tolerance ${r.toleranceRmse}).`,
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
  const tolerance = options.toleranceRmse ?? ((params.compare as {tolerance_rmse?: number} | undefined)?.tolerance_rmse ?? 0)
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
  // A champion directory's version number is another registry's: never "the same version" as the challenger.
  const sameVersion = !options.championDir && champion?.version.version === challenger.version.version
  const decision = compareDecision(challengerScores, championScores, sameVersion, tolerance)
  const h = challenger.model.meta.horizonHours * HOUR_MS
  await mkdir(options.outDir, {recursive: true})
  const points = rows.time.flatMap((t, i) => [
    {time: t + h, series: 'actual', value: rows.actual[i]!},
    {time: t + h, series: `challenger v${challenger.version.version}`, value: scored.challengerPred[i]!},
    ...(scored.championPred ? [{time: t + h, series: `champion v${champion!.version.version}`, value: scored.championPred[i]!}] : []),
  ])
  const plots = ['forecast_vs_actual.png', 'residuals.png']
  await writeFile(join(options.outDir, plots[0]!), await forecastPlotPng(points, 'Challenger vs champion on the same holdout'))
  const residuals = rows.time.flatMap((_, i) => [
    {series: `challenger v${challenger.version.version}`, residual: scored.challengerPred[i]! - rows.actual[i]!},
    ...(scored.championPred ? [{series: `champion v${champion!.version.version}`, residual: scored.championPred[i]! - rows.actual[i]!}] : []),
  ])
  await writeFile(join(options.outDir, plots[1]!), await residualsPlotPng(residuals, 'Holdout residuals'))
  const base: Omit<CompareResult, 'report'> = {
    decision,
    passed: decision !== 'challenger_loses',
    registeredModel: section.registered_name,
    challenger: {version: challenger.version.version, alias, runId: challenger.version.run_id, scores: challengerScores},
    champion: champion ? {version: champion.version.version, runId: champion.version.run_id, scores: championScores!} : null,
    baselines: {persistence: score(rows.actual, rows.current), seasonal: score(rows.actual, rows.seasonal)},
    holdout: {start: new Date(rows.time[0]! + h).toISOString(), end: new Date(rows.time.at(-1)! + h).toISOString(), rows: rows.time.length},
    deltaRmse: championScores ? challengerScores.rmse - championScores.rmse : null,
    toleranceRmse: tolerance,
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
