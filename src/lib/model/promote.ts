import {existsSync} from 'node:fs'
import {readFile} from 'node:fs/promises'

import type {Params} from '../config/params.js'
import type {RetrainTrigger} from '../drift/page-hinkley.js'
import {RpsError} from '../errors.js'
import {MlflowClient} from '../mlflow/client.js'
import {ALIASES, PROMOTION_TAGS} from './registry.js'
import {modelSection} from './settings.js'

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
  /** report.json of `rps compare`: its RMSEs join the reason when it scored the version being promoted. */
  compareReport?: string
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
  challenger?: {version?: string; scores?: {rmse?: number}}
  champion?: {version?: string; scores?: {rmse?: number}} | null
  holdout?: {rows?: number; end?: string}
}

/** "challenger v2 holdout RMSE 2.412 vs champion v1 3.871 on 72 rows", when the report scored `version`. */
export async function compareSummary(path: string | undefined, version: string): Promise<string | undefined> {
  if (!path || !existsSync(path)) return undefined
  const r = (await readJson(path, 'compare report')) as CompareReportDoc
  const challengerRmse = r?.challenger?.scores?.rmse
  if (r?.challenger?.version !== version || typeof challengerRmse !== 'number') return undefined
  const rows = r.holdout?.rows === undefined ? '' : ` on ${r.holdout.rows} rows`
  const championRmse = r.champion?.scores?.rmse
  if (!r.champion || typeof championRmse !== 'number') return `challenger v${version} holdout RMSE ${challengerRmse.toFixed(3)}${rows}, no champion to beat`
  return `challenger v${version} holdout RMSE ${challengerRmse.toFixed(3)} vs champion v${r.champion.version} ${championRmse.toFixed(3)}${rows}`
}

async function tagPromotion(client: MlflowClient, name: string, version: string, entry: PromotionEntry): Promise<void> {
  await client.setModelVersionTag(name, version, PROMOTION_TAGS.at, entry.at)
  await client.setModelVersionTag(name, version, PROMOTION_TAGS.trigger, entry.trigger ?? 'manual')
  await client.setModelVersionTag(name, version, PROMOTION_TAGS.reason, entry.reason.slice(0, MAX_TAG_CHARS))
}

/**
 * Moves @champion to the challenger (or `version`), keeping the old champion as
 * @previous-champion. The switch the server sees is one alias write; the version's promotion tags
 * (trigger, reason) are written before it, so a server that loads the new version reads them.
 * With `rollback`, the previous champion comes back and the demoted one becomes @previous-champion.
 */
export async function promote(params: Params, options: PromoteOptions = {}): Promise<PromoteResult> {
  const client = MlflowClient.fromEnv(options.env ?? process.env)
  const name = modelSection(params).registered_name
  const champion = await client.getVersionByAlias(name, ALIASES.champion)
  if (options.rollback) {
    const previous = await client.getVersionByAlias(name, ALIASES.previous)
    if (!previous) throw new RpsError(`'${name}' has no @${ALIASES.previous} to roll back to`, {code: 'NO_PREVIOUS_CHAMPION'})
    const entry: PromotionEntry = {at: new Date().toISOString(), action: 'rollback', from: champion?.version ?? null, to: previous.version, trigger: 'manual', reason: options.reason ?? 'manual rollback'}
    await tagPromotion(client, name, previous.version, entry)
    await client.setAlias(name, ALIASES.champion, previous.version)
    if (champion) await client.setAlias(name, ALIASES.previous, champion.version)
    return {registeredModel: name, action: 'rolled_back', champion: previous.version, previousChampion: champion?.version ?? null, trigger: entry.trigger!, reason: entry.reason, log: await appendLog(client, name, entry)}
  }
  const targetVersion = options.version ?? (await client.getVersionByAlias(name, ALIASES.challenger))?.version
  if (!targetVersion) throw new RpsError(`'${name}' has no @${ALIASES.challenger} to promote`, {code: 'NO_CHALLENGER', suggestions: ['run: rps train && rps compare']})
  await client.getModelVersion(name, targetVersion)
  if (champion?.version === targetVersion) {
    return {registeredModel: name, action: 'unchanged', champion: targetVersion, previousChampion: (await client.getVersionByAlias(name, ALIASES.previous))?.version ?? null, trigger: null, reason: null, log: []}
  }
  const why = options.reason === undefined ? await reasonFromDriftFile(options.reasonFile) : {trigger: 'manual' as const, reason: options.reason}
  const compared = await compareSummary(options.compareReport, targetVersion)
  const reason = compared ? `${why.reason}; ${compared}` : why.reason
  const entry: PromotionEntry = {at: new Date().toISOString(), action: 'promote', from: champion?.version ?? null, to: targetVersion, trigger: why.trigger, reason}
  await tagPromotion(client, name, targetVersion, entry)
  if (champion) await client.setAlias(name, ALIASES.previous, champion.version)
  await client.setAlias(name, ALIASES.champion, targetVersion)
  return {registeredModel: name, action: 'promoted', champion: targetVersion, previousChampion: champion?.version ?? null, trigger: why.trigger, reason, log: await appendLog(client, name, entry)}
}
