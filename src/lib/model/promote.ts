import type {Params} from '../config/params.js'
import {RpsError} from '../errors.js'
import {MlflowClient} from '../mlflow/client.js'
import {ALIASES} from './registry.js'
import {modelSection} from './settings.js'

export interface PromotionEntry {
  at: string
  action: 'promote' | 'rollback'
  from: string | null
  to: string
  reason: string
}

export interface PromoteResult {
  registeredModel: string
  action: 'promoted' | 'rolled_back' | 'unchanged'
  champion: string
  previousChampion: string | null
  log: PromotionEntry[]
}

const LOG_TAG = 'rps.promotion_log'
/** MLflow tag values are limited to 5,000 characters: keep the newest entries that fit. */
const MAX_LOG_CHARS = 4900

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

/**
 * Moves @champion to the challenger (or `version`), keeping the old champion as
 * @previous-champion. The switch the server sees is one alias write. With `rollback`, the
 * previous champion comes back and the demoted one becomes @previous-champion.
 */
export async function promote(params: Params, options: {rollback?: boolean; version?: string; reason?: string; env?: NodeJS.ProcessEnv} = {}): Promise<PromoteResult> {
  const client = MlflowClient.fromEnv(options.env ?? process.env)
  const name = modelSection(params).registered_name
  const champion = await client.getVersionByAlias(name, ALIASES.champion)
  if (options.rollback) {
    const previous = await client.getVersionByAlias(name, ALIASES.previous)
    if (!previous) throw new RpsError(`'${name}' has no @${ALIASES.previous} to roll back to`, {code: 'NO_PREVIOUS_CHAMPION'})
    await client.setAlias(name, ALIASES.champion, previous.version)
    if (champion) await client.setAlias(name, ALIASES.previous, champion.version)
    const entry: PromotionEntry = {at: new Date().toISOString(), action: 'rollback', from: champion?.version ?? null, to: previous.version, reason: options.reason ?? 'manual rollback'}
    await client.setModelVersionTag(name, previous.version, 'rps.promoted_at', entry.at)
    return {registeredModel: name, action: 'rolled_back', champion: previous.version, previousChampion: champion?.version ?? null, log: await appendLog(client, name, entry)}
  }
  const targetVersion = options.version ?? (await client.getVersionByAlias(name, ALIASES.challenger))?.version
  if (!targetVersion) throw new RpsError(`'${name}' has no @${ALIASES.challenger} to promote`, {code: 'NO_CHALLENGER', suggestions: ['run: rps train && rps compare']})
  await client.getModelVersion(name, targetVersion)
  if (champion?.version === targetVersion) {
    return {registeredModel: name, action: 'unchanged', champion: targetVersion, previousChampion: (await client.getVersionByAlias(name, ALIASES.previous))?.version ?? null, log: []}
  }
  if (champion) await client.setAlias(name, ALIASES.previous, champion.version)
  await client.setAlias(name, ALIASES.champion, targetVersion)
  const entry: PromotionEntry = {at: new Date().toISOString(), action: 'promote', from: champion?.version ?? null, to: targetVersion, reason: options.reason ?? 'challenger won the comparison'}
  await client.setModelVersionTag(name, targetVersion, 'rps.promoted_at', entry.at)
  await client.setModelVersionTag(name, targetVersion, 'rps.promotion_reason', entry.reason)
  return {registeredModel: name, action: 'promoted', champion: targetVersion, previousChampion: champion?.version ?? null, log: await appendLog(client, name, entry)}
}
