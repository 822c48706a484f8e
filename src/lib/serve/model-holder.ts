import {RpsError} from '../errors.js'
import {MlflowClient} from '../mlflow/client.js'
import {parseDigests, verifyDigests} from '../model/digests.js'
import {checkSeal, promotionKey} from '../model/seal.js'
import {type LoadedModel, loadModelDir} from '../model/model-dir.js'
import {REGISTRY_STAMP_FILE, type RegistryStamp, downloadVerified, promotionTrigger, readRegistryStamp} from '../model/registry.js'
import type {ServiceMetrics} from './metrics.js'
import {type ServeLimits, ServedModel} from './served-model.js'

export interface ModelSourceConfig {
  /** A local model directory (what the Docker image bakes in). */
  modelDir?: string
  /** Otherwise: this alias of the registered model, through MLflow. */
  alias: string
  registeredName: string
  limits: ServeLimits
  env?: NodeJS.ProcessEnv
}

/** A loaded model and the trigger of its promotion (rps_model_info's trigger label). */
export interface Candidate {
  served: ServedModel
  trigger: string
}

/**
 * A local model directory, checked against the digests its registry.json recorded (rps export-model
 * writes them) before any file is parsed. Without recorded digests it loads unverified.
 */
export async function loadLocalModel(dir: string): Promise<{model: LoadedModel; stamp: RegistryStamp | undefined; verified: boolean}> {
  const stamp = await readRegistryStamp(dir)
  const digests = stamp?.digests === undefined ? undefined : parseDigests(stamp.digests, `${dir}/${REGISTRY_STAMP_FILE}`)
  if (digests) await verifyDigests(dir, digests)
  return {model: await loadModelDir(dir), stamp, verified: digests !== undefined}
}

async function loadCandidate(config: ModelSourceConfig, knownVersion?: string): Promise<Candidate | undefined> {
  if (config.modelDir) {
    const {model, stamp, verified} = await loadLocalModel(config.modelDir)
    const served = new ServedModel(model, {name: stamp?.name ?? model.meta.name, version: stamp?.version ?? 'local', alias: stamp?.alias ?? 'local', verified}, config.limits)
    return {served, trigger: stamp?.trigger || 'unknown'}
  }
  const client = MlflowClient.fromEnv(config.env)
  const version = await client.getVersionByAlias(config.registeredName, config.alias)
  if (!version) throw new RpsError(`'${config.registeredName}' has no @${config.alias} in the registry at ${client.trackingUri}`, {code: 'NO_ALIAS', suggestions: ['run: rps train && rps promote, or pass --model-dir']})
  if (version.version === knownVersion) return undefined
  const key = promotionKey(config.env ?? process.env)
  if (key) checkSeal(version, key)
  const {model, digests} = await downloadVerified(client, version)
  return {served: new ServedModel(model, {name: version.name, version: version.version, alias: config.alias, verified: digests !== undefined}, config.limits), trigger: promotionTrigger(version)}
}

/** A new model must load and answer its own example with a finite number before it serves. */
export function validateServedModel(candidate: ServedModel): void {
  const {predictions} = candidate.predict(candidate.checkRequest({instances: [candidate.example()]}))
  const value = predictions[0]?.prediction
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new RpsError(`model ${candidate.identity.name} v${candidate.identity.version} answers its example with ${String(value)}`, {code: 'MODEL_INVALID'})
}

/**
 * Holds the model being served. A reload loads and validates the new model first and then swaps
 * one reference: requests already running keep the model they started with.
 */
export class ModelHolder {
  current: ServedModel | undefined
  /** Why the current model was promoted (its rps.promotion_trigger tag), "unknown" when not recorded. */
  trigger = 'unknown'
  lastError: string | undefined
  private running: Promise<ReloadResult> | undefined
  private queued: Promise<ReloadResult> | undefined

  constructor(private readonly config: ModelSourceConfig, private readonly metrics: ServiceMetrics, private readonly log: (line: string) => void = () => {}) {}

  /**
   * Loads the newest model for the configured source; returns whether the served model changed.
   * Reloads run one at a time, in order: a slow download of an older version can never replace a
   * model a later reload installed. Calls made while one runs share a single follow-up reload.
   */
  reload(): Promise<ReloadResult> {
    if (!this.running) {
      this.running = this.reloadNow().finally(() => {
        this.running = undefined
      })
      return this.running
    }
    this.queued ??= this.running.catch(() => undefined).then(() => {
      this.queued = undefined
      return this.reload()
    })
    return this.queued
  }

  /** The newest model of the source, undefined when it is `knownVersion` (a test may stand in its own). */
  protected load(knownVersion: string | undefined): Promise<Candidate | undefined> {
    return loadCandidate(this.config, knownVersion)
  }

  private async reloadNow(): Promise<ReloadResult> {
    let loaded: Candidate | undefined
    try {
      loaded = await this.load(this.config.modelDir ? undefined : this.current?.identity.version)
      if (loaded) validateServedModel(loaded.served)
    } catch (error) {
      if ((error as RpsError).code === 'MODEL_DIGEST_MISMATCH') this.metrics.digestMismatches.inc()
      if ((error as RpsError).code === 'MODEL_UNSEALED') this.metrics.unsealedRefusals.inc()
      this.lastError = (error as Error).message
      this.log(`reload rejected: ${this.lastError}${this.current ? `; still serving v${this.current.identity.version}` : ''}`)
      throw error
    }
    if (!loaded) return {changed: false, version: this.current!.identity.version}
    const candidate = loaded.served
    const previous = this.current?.identity.version
    this.current = candidate
    this.trigger = loaded.trigger
    this.lastError = undefined
    this.metrics.setModel(candidate.identity.name, candidate.identity.version, candidate.identity.alias, loaded.trigger)
    this.metrics.modelUnverified.set(candidate.identity.verified ? 0 : 1)
    const unverified = candidate.identity.verified ? '' : '; UNVERIFIED: no artifact digests were recorded for it'
    this.log(`serving ${candidate.identity.name} v${candidate.identity.version} (@${candidate.identity.alias}, promoted for ${loaded.trigger})${previous ? `, was v${previous}` : ''}${unverified}`)
    return {changed: true, version: candidate.identity.version}
  }
}

export interface ReloadResult {
  changed: boolean
  version: string
}
