import {existsSync} from 'node:fs'
import {readFile} from 'node:fs/promises'

import type {Params} from '../config/params.js'
import {RpsError} from '../errors.js'
import {MlflowClient, type ModelVersion} from '../mlflow/client.js'
import {ALIASES, COMPARE_REPORT_TAG, PROMOTION_TAGS, candidateAlias} from './registry.js'
import {SEAL_TAG, promotionKey, sealOf} from './seal.js'
import {modelSection} from './settings.js'

/** Why a retrain is due (the category recorded with a promotion); null when none is. */
export type RetrainTrigger = 'first_model' | 'concept_drift' | 'data_drift' | 'max_age' | 'forced' | 'alert'

/** Why a version became champion: a retrain trigger of `rps drift`, or a person (manual). */
export type PromotionTrigger = RetrainTrigger | 'manual'

export const PROMOTION_TRIGGERS: readonly PromotionTrigger[] = ['first_model', 'concept_drift', 'data_drift', 'max_age', 'forced', 'alert', 'manual']

export interface PromotionEntry {
  at: string
  action: 'promote' | 'rollback'
  from: string | null
  to: string
  trigger?: PromotionTrigger
  reason: string
}

export interface PromoteResult {
  registeredModel: string
  action: 'promoted' | 'rolled_back' | 'unchanged'
  champion: string
  previousChampion: string | null
  trigger: PromotionTrigger | null
  reason: string | null
  log: PromotionEntry[]
}

export interface PromoteOptions {
  rollback?: boolean
  version?: string
  /** Free text; the trigger is then manual. */
  reason?: string
  /** drift.json of `rps drift`: its decision (trigger, reason) is the promotion's when it decided a retrain. */
  reasonFile?: string
  /** Promote even when the compare gate refuses; needs `reason`, recorded with trigger forced. */
  force?: boolean
  /** report.json of `rps compare`: the gate reads it, and its RMSEs join the reason. */
  compareReport?: string
  /**
   * Promote the version behind this alias (a pull request's candidate, e.g. pr-42) instead of
   * @challenger. Without `compareReport`, the gate reads the comparison `rps compare` recorded
   * on that version. Once through the gate, @challenger points at it too.
   */
  fromAlias?: string
  env?: NodeJS.ProcessEnv
}

const LOG_TAG = 'rps.promotion_log'
/** MLflow tag values are limited to 5,000 characters: keep the newest entries that fit. */
const MAX_LOG_CHARS = 4900
const MAX_TAG_CHARS = 4900
export const DEFAULT_REASON = 'challenger won the comparison'

async function appendLog(client: MlflowClient, name: string, entry: PromotionEntry): Promise<PromotionEntry[]> {
  const model = await client.getRegisteredModel(name)
  const raw = model?.tags?.find((t) => t.key === LOG_TAG)?.value
  let log: PromotionEntry[]
  try {
    log = raw ? (JSON.parse(raw) as PromotionEntry[]) : []
  } catch {
    log = []
  }
  log.push(entry)
  while (log.length > 1 && JSON.stringify(log).length > MAX_LOG_CHARS) log.shift()
  await client.setRegisteredModelTag(name, LOG_TAG, JSON.stringify(log))
  return log
}

async function readJson(path: string, what: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'))
  } catch (error) {
    throw new RpsError(`cannot read the ${what} ${path}: ${(error as Error).message}`, {code: 'BAD_INPUT'})
  }
}

/** Trigger and reason from a drift.json; a missing file, or a check that decided no retrain, means a manual promotion. */
export async function reasonFromDriftFile(path: string | undefined): Promise<{trigger: PromotionTrigger; reason: string}> {
  if (!path || !existsSync(path)) return {trigger: 'manual', reason: DEFAULT_REASON}
  const doc = (await readJson(path, 'drift report')) as {decision?: {retrain?: unknown; trigger?: unknown; reason?: unknown}}
  const d = doc?.decision
  if (!d || typeof d.reason !== 'string') throw new RpsError(`${path} has no decision {retrain, trigger, reason}: not a drift report of rps drift`, {code: 'BAD_INPUT'})
  if (d.retrain !== true) return {trigger: 'manual', reason: `${DEFAULT_REASON} (the drift check decided no retrain: ${d.reason})`}
  if (!PROMOTION_TRIGGERS.includes(d.trigger as PromotionTrigger)) throw new RpsError(`${path}: unknown trigger ${JSON.stringify(d.trigger)} (known: ${PROMOTION_TRIGGERS.join(', ')})`, {code: 'BAD_INPUT'})
  return {trigger: d.trigger as PromotionTrigger, reason: d.reason}
}

interface CompareReportDoc {
  decision?: string
  passed?: unknown
  registeredModel?: string
  toleranceRmse?: number
  challenger?: {version?: string; runId?: string; scores?: {rmse?: number}}
  champion?: {version?: string; runId?: string; scores?: {rmse?: number}} | null
  holdout?: {rows?: number; end?: string}
}

/** `rps compare`'s exit code for a losing challenger; `rps promote` refuses with the same one. */
export const GATE_REFUSED_EXIT = 10

/** A comparison recorded on a model version by `rps compare` (tag rps.compare_report), instead of a file. */
export interface RecordedReport {
  /** Where it was read from, for messages: "the tag rps.compare_report of v4". */
  where: string
  json: string | undefined
}

/** A report.json path, a recorded report, or none. */
export type ReportSource = string | RecordedReport | undefined

async function readReport(source: ReportSource): Promise<{where: string; doc?: CompareReportDoc}> {
  if (source === undefined) return {where: '(none given)'}
  if (typeof source === 'string') return existsSync(source) ? {where: source, doc: (await readJson(source, 'compare report')) as CompareReportDoc} : {where: source}
  if (!source.json) return {where: source.where}
  try {
    return {where: source.where, doc: JSON.parse(source.json) as CompareReportDoc}
  } catch (error) {
    throw new RpsError(`cannot read the compare report in ${source.where}: ${(error as Error).message}`, {code: 'BAD_INPUT'})
  }
}

/** "challenger v2 holdout RMSE 2.412 vs champion v1 3.871 on 72 rows", when the report scored `version`. */
export async function compareSummary(source: ReportSource, version: string): Promise<string | undefined> {
  const {doc} = await readReport(source)
  return doc ? summarize(doc, version) : undefined
}

function summarize(r: CompareReportDoc, version: string): string | undefined {
  const challengerRmse = r?.challenger?.scores?.rmse
  if (r?.challenger?.version !== version || typeof challengerRmse !== 'number') return undefined
  const rows = r.holdout?.rows === undefined ? '' : ` on ${r.holdout.rows} rows`
  const championRmse = r.champion?.scores?.rmse
  if (!r.champion || typeof championRmse !== 'number') return `challenger v${version} holdout RMSE ${challengerRmse.toFixed(3)}${rows}, no champion to beat`
  return `challenger v${version} holdout RMSE ${challengerRmse.toFixed(3)} vs champion v${r.champion.version} ${championRmse.toFixed(3)}${rows}`
}

export interface GateVerdict {
  passed: boolean
  /** Why, with the RMSEs when the report has them. */
  reason: string
}

/**
 * The promotion gate. It opens only when the compare report at `path` scored exactly `target`
 * (version and MLflow run) against exactly the registry's current champion (or none, then as
 * now) and says passed. The aliases come from the registry at promote time, so a stale report
 * (an older challenger, or a champion that changed since) never opens it. With no champion at
 * all there is nothing to protect: the first model passes without a report.
 */
export async function compareGate(source: ReportSource, name: string, target: ModelVersion, champion: ModelVersion | undefined): Promise<GateVerdict> {
  if (!champion) return {passed: true, reason: 'no champion yet'}
  const pair = `challenger v${target.version} vs champion v${champion.version}`
  const {where: path, doc: r} = await readReport(source)
  if (!r) return {passed: false, reason: `no comparison report at ${path} for ${pair}`}
  const numbers = summarize(r, r?.challenger?.version ?? '') ?? 'no scores'
  const stale = (what: string) => ({passed: false, reason: `${path} is not a comparison of ${pair} (${what}; it compared ${numbers})`})
  if (r?.registeredModel !== undefined && r.registeredModel !== name) return stale(`it is about '${r.registeredModel}'`)
  if (r?.challenger?.version !== target.version) return stale(`its challenger is v${r?.challenger?.version ?? '?'}`)
  if (r.challenger.runId && target.run_id && r.challenger.runId !== target.run_id) return stale(`its challenger came from run ${r.challenger.runId}, v${target.version} from run ${target.run_id}`)
  const reportChampion = r.champion?.version ?? null
  if (reportChampion !== champion.version) return stale(`its champion was ${reportChampion ? `v${reportChampion}` : '(none)'}, the current one is v${champion.version}`)
  if (r.champion?.runId && champion.run_id && r.champion.runId !== champion.run_id) return stale(`its champion came from run ${r.champion.runId}`)
  if (r.passed !== true) {
    const tolerance = typeof r.toleranceRmse === 'number' ? ` (tolerance ${r.toleranceRmse})` : ''
    return {passed: false, reason: `rps compare decided ${r.decision ?? 'not passed'}: ${numbers}${tolerance}`}
  }
  return {passed: true, reason: numbers}
}

async function tagPromotion(client: MlflowClient, name: string, version: string, entry: PromotionEntry, env: NodeJS.ProcessEnv): Promise<void> {
  await client.setModelVersionTag(name, version, PROMOTION_TAGS.at, entry.at)
  await client.setModelVersionTag(name, version, PROMOTION_TAGS.trigger, entry.trigger ?? 'manual')
  await client.setModelVersionTag(name, version, PROMOTION_TAGS.reason, entry.reason.slice(0, MAX_TAG_CHARS))
  // With a promotion key, the seal a server holding the same key requires before it swaps (written before the alias moves).
  const key = promotionKey(env)
  if (key) await client.setModelVersionTag(name, version, SEAL_TAG, sealOf(key, await client.getModelVersion(name, version)))
}

/** `rps promote` refused a challenger: the gate's reason, with the numbers, and exit 10. */
export class PromotionRefusedError extends RpsError {
  constructor(name: string, version: string, reason: string) {
    super(`refusing to promote '${name}' v${version}: ${reason}`, {
      code: 'PROMOTION_REFUSED', exitCode: GATE_REFUSED_EXIT,
      suggestions: ['run: rps compare (then rps promote), or override with: rps promote --force --reason "why"'],
    })
    this.name = 'PromotionRefusedError'
  }
}

/**
 * After a rollback the demoted version must not stay promotable as @challenger: when @challenger
 * pointed at it, it moves to the restored champion (nothing pending). A newer challenger that
 * was never promoted keeps its alias; its comparison was against the demoted champion, so the
 * gate asks for a new one.
 */
async function rollback(client: MlflowClient, name: string, champion: ModelVersion | undefined, reason: string | undefined, env: NodeJS.ProcessEnv): Promise<PromoteResult> {
  const previous = await client.getVersionByAlias(name, ALIASES.previous)
  if (!previous) throw new RpsError(`'${name}' has no @${ALIASES.previous} to roll back to`, {code: 'NO_PREVIOUS_CHAMPION'})
  const challenger = await client.getVersionByAlias(name, ALIASES.challenger)
  const entry: PromotionEntry = {at: new Date().toISOString(), action: 'rollback', from: champion?.version ?? null, to: previous.version, trigger: 'manual', reason: reason ?? 'manual rollback'}
  await tagPromotion(client, name, previous.version, entry, env)
  await client.setAlias(name, ALIASES.champion, previous.version)
  if (champion) await client.setAlias(name, ALIASES.previous, champion.version)
  if (!challenger || challenger.version === champion?.version) await client.setAlias(name, ALIASES.challenger, previous.version)
  return {registeredModel: name, action: 'rolled_back', champion: previous.version, previousChampion: champion?.version ?? null, trigger: entry.trigger!, reason: entry.reason, log: await appendLog(client, name, entry)}
}

/**
 * Moves @champion to the challenger (or `version`), keeping the old champion as
 * @previous-champion, when the compare gate lets it (see compareGate) or `force` overrides it
 * (trigger forced, the given reason and the gate's refusal recorded). The switch the server sees
 * is one alias write; the version's promotion tags (trigger, reason) are written before it, so a
 * server that loads the new version reads them. With `rollback`, the previous champion comes back
 * and the demoted one becomes @previous-champion.
 */
export async function promote(params: Params, options: PromoteOptions = {}): Promise<PromoteResult> {
  const client = MlflowClient.fromEnv(options.env ?? process.env)
  const name = modelSection(params).registered_name
  const champion = await client.getVersionByAlias(name, ALIASES.champion)
  if (options.rollback) return rollback(client, name, champion, options.reason, options.env ?? process.env)
  if (options.force && !options.reason?.trim()) throw new RpsError('--force needs --reason "why": the override is recorded', {code: 'BAD_INPUT', exitCode: 2})
  if (options.version !== undefined && options.fromAlias !== undefined) throw new RpsError('give --version or --from-alias, not both', {code: 'BAD_INPUT', exitCode: 2})
  const from = candidateAlias(options.fromAlias ?? ALIASES.challenger)
  const targetVersion = options.version ?? (await client.getVersionByAlias(name, from))?.version
  if (!targetVersion) {
    const suggestions = from === ALIASES.challenger ? ['run: rps train && rps compare'] : [`run: rps train --alias ${from} && rps compare --challenger ${from}`]
    throw new RpsError(`'${name}' has no @${from} to promote`, {code: from === ALIASES.challenger ? 'NO_CHALLENGER' : 'NO_CANDIDATE', suggestions})
  }
  const target = await client.getModelVersion(name, targetVersion)
  if (champion?.version === targetVersion) {
    return {registeredModel: name, action: 'unchanged', champion: targetVersion, previousChampion: (await client.getVersionByAlias(name, ALIASES.previous))?.version ?? null, trigger: null, reason: null, log: []}
  }
  const report: ReportSource = options.fromAlias !== undefined && options.compareReport === undefined
    ? {where: `the comparison recorded on v${targetVersion} (tag ${COMPARE_REPORT_TAG})`, json: target.tags?.find((t) => t.key === COMPARE_REPORT_TAG)?.value}
    : options.compareReport
  const gate = await compareGate(report, name, target, champion)
  if (!gate.passed && !options.force) throw new PromotionRefusedError(name, targetVersion, gate.reason)
  let why: {trigger: PromotionTrigger; reason: string}
  if (options.force) why = {trigger: 'forced', reason: gate.passed ? options.reason! : `${options.reason!} (forced past the gate: ${gate.reason})`}
  else why = options.reason === undefined ? await reasonFromDriftFile(options.reasonFile) : {trigger: 'manual', reason: options.reason}
  const compared = gate.passed ? await compareSummary(report, targetVersion) : undefined
  const reason = compared ? `${why.reason}; ${compared}` : why.reason
  const entry: PromotionEntry = {at: new Date().toISOString(), action: 'promote', from: champion?.version ?? null, to: targetVersion, trigger: why.trigger, reason}
  await tagPromotion(client, name, targetVersion, entry, options.env ?? process.env)
  // A candidate that passed becomes the challenger it now is, so the registry reads as after a DAG promotion.
  if (options.fromAlias !== undefined && from !== ALIASES.challenger) await client.setAlias(name, ALIASES.challenger, targetVersion)
  if (champion) await client.setAlias(name, ALIASES.previous, champion.version)
  await client.setAlias(name, ALIASES.champion, targetVersion)
  return {registeredModel: name, action: 'promoted', champion: targetVersion, previousChampion: champion?.version ?? null, trigger: why.trigger, reason, log: await appendLog(client, name, entry)}
}
