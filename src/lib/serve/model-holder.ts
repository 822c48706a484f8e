import {RpsError} from '../errors.js'
import {MlflowClient} from '../mlflow/client.js'
import {loadModelDir} from '../model/model-dir.js'
import {downloadVersion, promotionTrigger, readRegistryStamp} from '../model/registry.js'
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
interface Candidate {
  served: ServedModel
  trigger: string
}

async function loadCandidate(config: ModelSourceConfig, knownVersion?: string): Promise<Candidate | undefined> {
  if (config.modelDir) {
    const model = await loadModelDir(config.modelDir)
    const stamp = await readRegistryStamp(config.modelDir)
    const served = new ServedModel(model, {name: stamp?.name ?? model.meta.name, version: stamp?.version ?? 'local', alias: stamp?.alias ?? 'local', source: config.modelDir}, config.limits)
    return {served, trigger: stamp?.trigger || 'unknown'}
  }
  const client = MlflowClient.fromEnv(config.env)
  const version = await client.getVersionByAlias(config.registeredName, config.alias)
  if (!version) throw new RpsError(`'${config.registeredName}' has no @${config.alias} in the registry at ${client.trackingUri}`, {code: 'NO_ALIAS', suggestions: ['run: rps train && rps promote, or pass --model-dir']})
  if (version.version === knownVersion) return undefined
  const model = await downloadVersion(client, version)
  return {served: new ServedModel(model, {name: version.name, version: version.version, alias: config.alias, source: version.source}, config.limits), trigger: promotionTrigger(version)}
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

  constructor(private readonly config: ModelSourceConfig, private readonly metrics: ServiceMetrics, private readonly log: (line: string) => void = () => {}) {}

  /** Loads the newest model for the configured source; returns whether the served model changed. */
  async reload(): Promise<{changed: boolean; version: string}> {
    let loaded: Candidate | undefined
    try {
      loaded = await loadCandidate(this.config, this.config.modelDir ? undefined : this.current?.identity.version)
      if (loaded) validateServedModel(loaded.served)
    } catch (error) {
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
    this.log(`serving ${candidate.identity.name} v${candidate.identity.version} (@${candidate.identity.alias}, promoted for ${loaded.trigger})${previous ? `, was v${previous}` : ''}`)
    return {changed: true, version: candidate.identity.version}
  }
}
