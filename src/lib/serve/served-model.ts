import {Ajv, type ValidateFunction} from 'ajv'

import {newestHourFeatures} from '../features/build-features.js'
import {regularize} from '../features/hourly-table.js'
import type {LoadedModel} from '../model/model-dir.js'

const HOUR_MS = 3_600_000

export interface ModelIdentity {
  name: string
  version: string
  alias: string
  source: string
}

export interface Observation {
  time: string
  [variable: string]: number | string | null
}

export type Instance = {features: Record<string, number>} | {observations: Observation[]}

export interface Prediction {
  prediction: number
  target_time: string | null
  model: {name: string; version: string}
  out_of_distribution: string[]
}

export class InputError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'InputError'
  }
}

/** A loaded model plus what serving needs: request schema, OOD bounds, an example instance. */
export class ServedModel {
  readonly features: string[]
  readonly requestSchema: RequestSchema
  private readonly validateEnvelope: ValidateFunction
  private readonly validateFeatures: ValidateFunction
  private readonly validateObservations: ValidateFunction

  constructor(readonly model: LoadedModel, readonly identity: ModelIdentity, readonly limits: {maxInstances: number; maxObservations: number}) {
    this.features = model.meta.features
    this.requestSchema = predictRequestSchema(model, limits)
    const ajv = new Ajv({allErrors: true, strict: false})
    const envelope = {...this.requestSchema, properties: {instances: {...this.requestSchema.properties.instances, items: {type: 'object'}}}}
    this.validateEnvelope = ajv.compile(envelope)
    this.validateFeatures = ajv.compile(this.requestSchema.featureInstance)
    this.validateObservations = ajv.compile(this.requestSchema.observationInstance)
  }

  get minObservations(): number {
    const cfg = this.model.meta.featureConfig
    return Math.max(24, ...cfg.lags, ...cfg.rollingWindows, ...Object.values(cfg.diffs).flat(), 24 - cfg.horizonHours) + 1
  }

  /** A valid instance built from the training means: used by /model, deploy checks and reload validation. */
  example(): {features: Record<string, number>} {
    return {features: Object.fromEntries(this.features.map((f) => [f, Number(this.model.meta.trainingStats[f]!.mean.toFixed(4))]))}
  }

  /** Validates a request body; throws InputError with every problem listed. */
  checkRequest(body: unknown): Instance[] {
    const problems: string[] = []
    const collect = (validate: ValidateFunction, prefix: string) => {
      const missing = new Map<string, string[]>()
      const unknown = new Map<string, string[]>()
      const add = (map: Map<string, string[]>, where: string, name: string) => map.set(where, [...(map.get(where) ?? []), name])
      for (const e of validate.errors ?? []) {
        const where = `${prefix}${e.instancePath}` || 'body'
        if (e.keyword === 'additionalProperties') add(unknown, where, String(e.params.additionalProperty))
        else if (e.keyword === 'required') add(missing, where, String(e.params.missingProperty))
        else problems.push(`${where}: ${e.message}`)
      }
      const list = (names: string[]) => names.slice(0, 6).join(', ') + (names.length > 6 ? `, … (${names.length} in all)` : '')
      for (const [where, names] of missing) problems.push(`${where}: missing ${list(names)}`)
      for (const [where, names] of unknown) problems.push(`${where}: unknown ${list(names)}`)
    }
    if (!this.validateEnvelope(body)) collect(this.validateEnvelope, '')
    else {
      // Each instance is checked against the branch its keys choose, so errors name the real problem.
      ;(body as {instances: object[]}).instances.forEach((instance, i) => {
        const validate = 'observations' in instance && !('features' in instance) ? this.validateObservations : this.validateFeatures
        if (!validate(instance)) collect(validate, `/instances/${i}`)
      })
    }
    if (!problems.length) {
      ;(body as {instances: Record<string, unknown>[]}).instances.forEach((instance, i) => {
        const values = 'features' in instance ? Object.entries(instance.features as Record<string, number>) : []
        for (const [name, value] of values) if (!Number.isFinite(value)) problems.push(`/instances/${i}/features/${name}: must be a finite number`)
        for (const [h, o] of ((instance.observations ?? []) as Record<string, unknown>[]).entries()) {
          for (const [name, value] of Object.entries(o)) if (typeof value === 'number' && !Number.isFinite(value)) problems.push(`/instances/${i}/observations/${h}/${name}: must be a finite number`)
        }
      })
    }
    if (problems.length) throw new InputError(`invalid request: ${[...new Set(problems)].slice(0, 8).join('; ')}${problems.length > 8 ? '; …' : ''}`)
    return (body as {instances: Instance[]}).instances
  }

  /** `issuedAt[i]`: the observation hour instance i was predicted from (observation instances only; the prediction log needs it). */
  predict(instances: Instance[]): {predictions: Prediction[]; oodFeatures: string[]; issuedAt: (string | null)[]; current: number[]} {
    const rows: number[][] = []
    const current: number[] = []
    const targetTimes: (string | null)[] = []
    const issuedAt: (string | null)[] = []
    for (const [i, instance] of instances.entries()) {
      if ('features' in instance) {
        rows.push(this.features.map((f) => instance.features[f]!))
        current.push(instance.features[this.model.meta.target]!)
        targetTimes.push(null)
        issuedAt.push(null)
      } else {
        const built = this.featuresFromObservations(instance.observations, i)
        rows.push(built.row)
        current.push(built.current)
        targetTimes.push(built.targetTime)
        issuedAt.push(built.issuedAt)
      }
    }
    const values = this.model.predict(rows, current)
    const oodAll = new Set<string>()
    const predictions = values.map((prediction, i) => {
      const ood = this.outOfDistribution(rows[i]!)
      ood.forEach((f) => oodAll.add(f))
      return {prediction, target_time: targetTimes[i]!, model: {name: this.identity.name, version: this.identity.version}, out_of_distribution: ood}
    })
    return {predictions, oodFeatures: [...oodAll], issuedAt, current}
  }

  /** Features outside the range seen in training (min .. max of the training rows). */
  outOfDistribution(row: number[]): string[] {
    return this.features.filter((f, j) => {
      const s = this.model.meta.trainingStats[f]!
      return row[j]! < s.min || row[j]! > s.max
    })
  }

  /** The training feature function applied to recent hourly observations; the newest hour is predicted from. */
  private featuresFromObservations(observations: Observation[], index: number): {row: number[]; current: number; targetTime: string; issuedAt: string} {
    const cfg = this.model.meta.featureConfig
    const rows = new Map<number, {collectedAt: string; values: Record<string, number | null>}>()
    for (const o of observations) {
      const ms = Date.parse(o.time)
      if (Number.isNaN(ms) || ms % HOUR_MS !== 0) throw new InputError(`instances/${index}: observation time '${o.time}' is not a whole UTC hour (ISO 8601)`)
      if (rows.has(ms)) throw new InputError(`instances/${index}: duplicate observation for ${o.time}`)
      rows.set(ms, {collectedAt: '', values: Object.fromEntries(cfg.variables.map((v) => [v, typeof o[v] === 'number' ? (o[v] as number) : null]))})
    }
    const {table} = regularize(rows, cfg.variables, cfg.maxFillHours)
    if (table.time.length < this.minObservations) {
      throw new InputError(`instances/${index}: need at least ${this.minObservations} consecutive hourly observations, got ${table.time.length} hours`)
    }
    const {values: row, missing} = newestHourFeatures(table, cfg)
    if (missing.length) throw new InputError(`instances/${index}: the newest hour lacks data for ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''} (gaps longer than ${cfg.maxFillHours} h are not filled)`)
    const newest = table.time.at(-1)!
    return {row: row as number[], current: table.columns[cfg.target]!.at(-1)!, targetTime: new Date(newest + cfg.horizonHours * HOUR_MS).toISOString(), issuedAt: new Date(newest).toISOString()}
  }
}

export interface RequestSchema {
  type: 'object'
  required: string[]
  additionalProperties: false
  properties: {instances: {type: 'array'; minItems: number; maxItems: number; items: object}}
  featureInstance: object
  observationInstance: object
}

/** The request schema for a model: the same objects the OpenAPI document publishes. */
export function predictRequestSchema(model: LoadedModel, limits: {maxInstances: number; maxObservations: number}): RequestSchema {
  const cfg = model.meta.featureConfig
  const featureInstance = {
    type: 'object', required: ['features'], additionalProperties: false,
    properties: {
      features: {
        type: 'object', required: model.meta.features, additionalProperties: false,
        properties: Object.fromEntries(model.meta.features.map((f) => [f, {type: 'number'}])),
      },
    },
  }
  const observationInstance = {
    type: 'object', required: ['observations'], additionalProperties: false,
    properties: {
      observations: {
        type: 'array', minItems: 1, maxItems: limits.maxObservations,
        items: {
          type: 'object', required: ['time', cfg.target], additionalProperties: false,
          properties: {time: {type: 'string', description: 'UTC hour, ISO 8601'}, ...Object.fromEntries(cfg.variables.map((v) => [v, {type: ['number', 'null']}]))},
        },
      },
    },
  }
  return {
    type: 'object', required: ['instances'], additionalProperties: false,
    properties: {instances: {type: 'array', minItems: 1, maxItems: limits.maxInstances, items: {oneOf: [featureInstance, observationInstance]}}},
    featureInstance,
    observationInstance,
  }
}
