import {existsSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {RpsError} from '../errors.js'
import {MlflowClient} from '../mlflow/client.js'
import {loadModelDir} from '../model/model-dir.js'
import {downloadVersion} from '../model/registry.js'
import type {ServiceMetrics} from './metrics.js'
import {ServedModel} from './served-model.js'

export interface ModelSourceConfig {
  /** A local model directory (what the Docker image bakes in). */
  modelDir?: string
  /** Otherwise: this alias of the registered model, through MLflow. */
  alias: string
  registeredName: string
  limits: {maxInstances: number; maxObservations: number}
  env?: NodeJS.ProcessEnv
}

/** Written by `rps export-model` beside a model directory's files: which registry version it is. */
export interface RegistryStamp {
  name: string
  version: string
  alias: string | null
}

async function loadCandidate(config: ModelSourceConfig, knownVersion?: string): Promise<ServedModel | undefined> {
  if (config.modelDir) {
    const model = await loadModelDir(config.modelDir)
    const stampPath = join(config.modelDir, 'registry.json')
    const stamp = existsSync(stampPath) ? (JSON.parse(await readFile(stampPath, 'utf8')) as RegistryStamp) : undefined
    return new ServedModel(model, {name: stamp?.name ?? model.meta.name, version: stamp?.version ?? 'local', alias: stamp?.alias ?? 'local', source: config.modelDir}, config.limits)
  }
  const client = MlflowClient.fromEnv(config.env)
  const version = await client.getVersionByAlias(config.registeredName, config.alias)
  if (!version) throw new RpsError(`'${config.registeredName}' has no @${config.alias} in the registry at ${client.trackingUri}`, {code: 'NO_ALIAS', suggestions: ['run: rps train && rps promote, or pass --model-dir']})
  if (version.version === knownVersion) return undefined
  const model = await downloadVersion(client, version)
  return new ServedModel(model, {name: version.name, version: version.version, alias: config.alias, source: version.source}, config.limits)
}

/** A new model must load and answer its own example with a finite number before it serves. */
export function validateServedModel(candidate: ServedModel): void {
  const {predictions} = candidate.predict([candidate.example()])
  const value = predictions[0]?.prediction
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new RpsError(`model ${candidate.identity.name} v${candidate.identity.version} answers its example with ${String(value)}`, {code: 'MODEL_INVALID'})
}

/**
 * Holds the model being served. A reload loads and validates the new model first and then swaps
 * one reference: requests already running keep the model they started with.
 */
export class ModelHolder {
  current: ServedModel | undefined
  lastError: string | undefined

  constructor(private readonly config: ModelSourceConfig, private readonly metrics: ServiceMetrics, private readonly log: (line: string) => void = () => {}) {}

  /** Loads the newest model for the configured source; returns whether the served model changed. */
  async reload(): Promise<{changed: boolean; version: string}> {
    let candidate: ServedModel | undefined
    try {
      candidate = await loadCandidate(this.config, this.config.modelDir ? undefined : this.current?.identity.version)
      if (candidate) validateServedModel(candidate)
    } catch (error) {
      this.lastError = (error as Error).message
      this.log(`reload rejected: ${this.lastError}${this.current ? `; still serving v${this.current.identity.version}` : ''}`)
      throw error
    }
    if (!candidate) return {changed: false, version: this.current!.identity.version}
    const previous = this.current?.identity.version
    this.current = candidate
    this.lastError = undefined
    this.metrics.setModel(candidate.identity.name, candidate.identity.version, candidate.identity.alias)
    this.log(`serving ${candidate.identity.name} v${candidate.identity.version} (@${candidate.identity.alias})${previous ? `, was v${previous}` : ''}`)
    return {changed: true, version: candidate.identity.version}
  }
}
