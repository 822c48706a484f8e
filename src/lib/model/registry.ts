import {existsSync} from 'node:fs'
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {RpsError} from '../errors.js'
import {MlflowClient, type ModelVersion} from '../mlflow/client.js'
import {type ArtifactDigests, DIGESTS_TAG, parseDigests, verifyDigests} from './digests.js'
import {type LoadedModel, loadModelDir} from './model-dir.js'

export const REGISTRY_STAMP_FILE = 'registry.json'

export const ALIASES = {challenger: 'challenger', champion: 'champion', previous: 'previous-champion'} as const

/** The version tag where `rps compare` records its report (compact JSON) on the challenger it scored. */
export const COMPARE_REPORT_TAG = 'rps.compare_report'

/**
 * A name `rps train --alias` may register under and `rps compare --challenger` / `rps promote
 * --from-alias` may read: MLflow's alias syntax (letters, digits, _ and -, not `latest` nor
 * `v<digits>`), and never production's own @champion / @previous-champion, which only rps promote
 * moves. Returns the alias; a bad one is a usage error (exit 2).
 */
export function candidateAlias(alias: string): string {
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(alias) || /^v\d+$/i.test(alias) || alias.toLowerCase() === 'latest') {
    throw new RpsError(`invalid alias '${alias}': use letters, digits, _ and - (not 'latest' nor v<digits>), e.g. pr-42`, {code: 'BAD_INPUT', exitCode: 2})
  }
  if (alias === ALIASES.champion || alias === ALIASES.previous) {
    throw new RpsError(`@${alias} is production's: only rps promote moves it; train and compare a candidate under another alias (e.g. pr-42)`, {code: 'BAD_INPUT', exitCode: 2})
  }
  return alias
}

/** Written by `rps export-model` beside a model directory's files: which registry version it is. */
export interface RegistryStamp {
  name: string
  version: string
  alias: string | null
  /** The version's promotion trigger, when the exporter recorded it. */
  trigger?: string
  /** The sha256 of every model file, as recorded at registration (absent for versions registered before). */
  digests?: ArtifactDigests
}

/** The stamp beside a model directory, if `rps export-model` wrote one. */
export async function readRegistryStamp(modelDir: string): Promise<RegistryStamp | undefined> {
  const path = join(modelDir, REGISTRY_STAMP_FILE)
  return existsSync(path) ? (JSON.parse(await readFile(path, 'utf8')) as RegistryStamp) : undefined
}

export interface RegistryModel {
  version: ModelVersion
  model: LoadedModel
}

/** The artifact digests `rps train` recorded on a version, or undefined for a version registered before they were. */
export function recordedDigests(version: ModelVersion): ArtifactDigests | undefined {
  const tag = version.tags?.find((t) => t.key === DIGESTS_TAG)
  return tag ? parseDigests(tag.value, `${version.name} v${version.version}'s ${DIGESTS_TAG} tag`) : undefined
}

/**
 * Downloads a registered version's model directory into `dest` (default: a temp dir, deleted once
 * the model is in memory, also on failure), checks its files against the version's recorded
 * digests before parsing any of them, and loads it. A version without digests (registered before
 * they were recorded) loads with `digests` undefined: the caller decides what that means.
 */
export async function downloadVerified(client: MlflowClient, version: ModelVersion, dest?: string): Promise<{model: LoadedModel; digests: ArtifactDigests | undefined}> {
  const digests = recordedDigests(version)
  const temp = dest ? undefined : await mkdtemp(join(tmpdir(), `rps-model-v${version.version}-`))
  const dir = dest ?? join(temp!, 'model')
  try {
    const files = await client.downloadDirectory(version.source, '', dir)
    if (files.length === 0) throw new RpsError(`model version ${version.name} v${version.version} has no files in the registry`, {code: 'MODEL_EMPTY'})
    if (digests) await verifyDigests(dir, digests)
    return {model: await loadModelDir(dir), digests}
  } finally {
    if (temp) await rm(temp, {recursive: true, force: true})
  }
}

/** Downloads, verifies (when the version has digests) and loads a registered version's model. */
export async function downloadVersion(client: MlflowClient, version: ModelVersion, dest?: string): Promise<LoadedModel> {
  return (await downloadVerified(client, version, dest)).model
}

/** The version behind an alias with its model loaded, or undefined when the alias is not set. */
export async function loadAlias(client: MlflowClient, name: string, alias: string): Promise<RegistryModel | undefined> {
  const version = await client.getVersionByAlias(name, alias)
  if (!version) return undefined
  return {version, model: await downloadVersion(client, version)}
}

/** Tags `rps promote` sets on the version it promotes: when, which trigger category, and why (with the values). */
export const PROMOTION_TAGS = {at: 'rps.promoted_at', trigger: 'rps.promotion_trigger', reason: 'rps.promotion_reason'} as const

/** The trigger a version was promoted for ("unknown" when it carries none, e.g. promoted before triggers were recorded). */
export function promotionTrigger(version: ModelVersion): string {
  return version.tags?.find((t) => t.key === PROMOTION_TAGS.trigger)?.value || 'unknown'
}
