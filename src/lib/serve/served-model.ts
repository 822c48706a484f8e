import {Ajv, type ValidateFunction} from 'ajv'

import {type FeaturePlan, featurePlan, featureRow} from '../features/feature-row.js'
import {levelKey, levelLabel} from '../stats/intervals.js'
import type {LoadedModel} from '../model/model-dir.js'
import {HOUR_TIME_PATTERN, parseHourTime} from './hour-time.js'

const HOUR_MS = 3_600_000

export interface ModelIdentity {
  name: string
  version: string
  alias: string
  /** Whether the model's files were checked against the sha256 digests recorded at registration. */
  verified: boolean
}

export interface Observation {
  time: string
  [variable: string]: number | string
}

export type Instance = {features: Record<string, number>} | {observations: Observation[]}

export interface Prediction {
  /** The longest horizon's forecast (what `target_time` is the time of). */
  prediction: number
  target_time: string | null
  model: {name: string; version: string}
  out_of_distribution: string[]
  /** Every requested horizon, ascending: its target time, forecast and bands. */
  path: PathPoint[]
}

/** One horizon of a forecast path; `interval_80: [lower, upper]` for each band level (80 %, 95 %...). */
export interface PathPoint {
  horizon: number
  target_time: string | null
  value: number
  [interval: `interval_${string}`]: [number, number]
}

export interface ServeLimits {
  maxInstances: number
}

export class InputError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'InputError'
  }
}

/**
 * Observations an instance must / may hold, from the model's feature configuration: the newest
 * hour's features read `lookback` hours before it, so at least lookback + 1 rows; at most four
 * times that, which bounds the work and the span of one instance.
 */
export function observationBounds(plan: FeaturePlan): {min: number; max: number} {
  const min = plan.lookback + 1
  return {min, max: 4 * min}
}

/** A request that passed every check: instances as sent, plus the first hour of each observations instance. */
export interface CheckedRequest {
  instances: Instance[]
  firstHour: number[]
  /** The horizons asked for (the request's `horizons`, else every one), ascending. */
  horizons: number[]
}

/** A loaded model plus what serving needs: request schema, OOD bounds, an example instance, scratch buffers. */
export class ServedModel {
  readonly features: string[]
  readonly plan: FeaturePlan
  readonly minObservations: number
  readonly maxObservations: number
  readonly requestSchema: RequestSchema
  private readonly validateEnvelope: ValidateFunction
  private readonly validateFeatures: ValidateFunction
  private readonly validateObservations: ValidateFunction
  private readonly low: Float64Array
  private readonly high: Float64Array
  private readonly targetIndex: number
  // Reused by every request: the event loop runs one request's feature work at a time.
  private readonly columns: Float64Array[]
  private readonly row: Float64Array
  /** Every horizon the model forecasts, ascending. */
  readonly horizons: number[]
  /** The band levels (ascending) and each horizon's half-widths, level by level. */
  readonly levels: number[]
  private halfWidths: Map<number, number[]>
  private readonly calibrated: Map<number, number[]>
  private readonly intervalKeys: string[]
  /** Where the bands in use come from: the model's calibration, or the live bands of rps forecast. */
  bandSource: 'calibrated' | 'live' | 'none' = 'none'

  constructor(readonly model: LoadedModel, readonly identity: ModelIdentity, readonly limits: ServeLimits) {
    const meta = model.meta
    this.features = meta.features
    this.plan = featurePlan(meta.featureConfig)
    if (JSON.stringify(this.plan.names) !== JSON.stringify(this.features)) throw new Error('the model\'s feature list does not match its feature configuration')
    const bounds = observationBounds(this.plan)
    this.minObservations = bounds.min
    this.maxObservations = bounds.max
    this.requestSchema = predictRequestSchema(model, limits, bounds)
    // allErrors only where the error count is bounded by the model (feature names), never by the body.
    const all = new Ajv({allErrors: true, strict: false})
    const first = new Ajv({allErrors: false, strict: false})
    // Items and horizons only by type here: each instance is checked on its own below, a horizon by requestedHorizons (a message naming the valid ones).
    const envelope = {...this.requestSchema, properties: {instances: {...this.requestSchema.properties.instances, items: {type: 'object'}}, horizons: {...this.requestSchema.properties.horizons, items: {type: 'integer'}}}}
    this.validateEnvelope = first.compile(envelope)
    this.validateFeatures = all.compile(this.requestSchema.featureInstance)
    this.validateObservations = first.compile(this.requestSchema.observationInstance)
    this.low = Float64Array.from(this.features, (f) => meta.trainingStats[f]!.min)
    this.high = Float64Array.from(this.features, (f) => meta.trainingStats[f]!.max)
    this.targetIndex = this.features.indexOf(meta.target)
    if (this.targetIndex < 0) throw new Error(`the target ${meta.target} is not one of the model's features`)
    this.columns = this.plan.variables.map(() => new Float64Array(this.plan.lookback + 1))
    this.row = new Float64Array(this.features.length)
    this.horizons = model.horizons
    const calibration = meta.calibration
    this.levels = calibration ? [...calibration.levels].sort((a, b) => a - b) : []
    this.intervalKeys = this.levels.map((l) => `interval_${levelLabel(l)}`)
    this.calibrated = new Map(this.horizons.map((h) => [h, this.levels.map((l) => calibration?.halfWidth[String(h)]?.[levelKey(l)] ?? Number.NaN)]))
    this.halfWidths = this.calibrated
    if (calibration) this.bandSource = 'calibrated'
  }

  /** The calibrated half-width of horizon h at the l-th level. */
  calibratedHalfWidth(h: number, l: number): number {
    return this.calibrated.get(h)?.[l] ?? Number.NaN
  }

  /** The half-widths in use, per horizon in level order (for /model). */
  bands(): {source: string; levels: number[]; halfWidth: Record<string, Record<string, number>>} {
    return {
      source: this.bandSource, levels: this.levels,
      halfWidth: Object.fromEntries([...this.halfWidths].map(([h, w]) => [String(h), Object.fromEntries(this.levels.map((l, k) => [levelKey(l), w[k]!]))])),
    }
  }

  /** Swaps in other half-widths (one reference: a request sees the old set or the new). Returns whether they changed. */
  useBands(widths: Map<number, number[]>, source: 'live' | 'calibrated'): boolean {
    const same = source === this.bandSource && this.horizons.every((h) => widths.get(h)?.every((w, k) => w === this.halfWidths.get(h)?.[k]))
    if (same || this.horizons.some((h) => widths.get(h)?.length !== this.levels.length)) return false
    this.halfWidths = widths
    this.bandSource = source
    return true
  }

  /** A valid instance built from the training means: used by /model, deploy checks and reload validation. */
  example(): {features: Record<string, number>} {
    return {features: Object.fromEntries(this.features.map((f) => [f, Number(this.model.meta.trainingStats[f]!.mean.toFixed(4))]))}
  }

  /** A valid observations instance: the fewest hours, every variable at its training mean, ending 2026-01-01T00:00:00Z. */
  exampleObservations(): {observations: Observation[]} {
    const end = Date.UTC(2026, 0, 1)
    const stats = this.model.meta.trainingStats
    return {
      observations: Array.from({length: this.minObservations}, (_, k) => ({
        time: new Date(end - (this.minObservations - 1 - k) * HOUR_MS).toISOString().replace('.000Z', 'Z'),
        ...Object.fromEntries(this.plan.variables.map((v) => [v, Number(stats[v]!.mean.toFixed(2))])),
      })),
    }
  }

  /** Bytes of a body of maxInstances feature instances whose numbers take 24 characters (-1.234567890123456e-300). */
  largestFeatureBody(): number {
    const one = JSON.stringify({features: Object.fromEntries(this.features.map((f) => [f, -1.234567890123456e-300]))}).length + 1
    return one * this.limits.maxInstances + 64
  }

  /**
   * Validates a request body before any feature work: shape and types (the published schema),
   * finite numbers, and for observations whole UTC hours, consecutive and oldest first (so their
   * count bounds their span). Throws InputError naming the first problems.
   */
  checkRequest(body: unknown): CheckedRequest {
    const problems: string[] = []
    if (!this.validateEnvelope(body)) collect(problems, this.validateEnvelope, '')
    else {
      const instances = (body as {instances: Record<string, unknown>[]}).instances
      for (let i = 0; i < instances.length && problems.length < 8; i++) {
        const instance = instances[i]!
        const where = `/instances/${i}`
        if ('observations' in instance && !('features' in instance)) {
          if (!this.validateObservations(instance)) {
            const e = this.validateObservations.errors?.[0]
            if (e && e.instancePath === '/observations' && (e.keyword === 'minItems' || e.keyword === 'maxItems')) {
              problems.push(`${where}/observations: need ${this.minObservations} to ${this.maxObservations} consecutive hourly observations, got ${((instance as {observations: unknown[]}).observations).length}`)
            } else collect(problems, this.validateObservations, where)
          }
          continue
        }
        const features = instance.features
        // The validator lists every unknown name: cap their number by the model's, not the body's.
        if (features && typeof features === 'object' && Object.keys(features).length > 2 * this.features.length) {
          problems.push(`${where}/features: ${Object.keys(features).length} properties, the model has ${this.features.length} features`)
          continue
        }
        if (!this.validateFeatures(instance)) collect(problems, this.validateFeatures, where)
      }
    }
    if (problems.length) throw invalid(problems)
    const horizons = this.requestedHorizons((body as {horizons?: unknown}).horizons)
    const instances = (body as {instances: Instance[]}).instances
    const firstHour: number[] = new Array(instances.length).fill(Number.NaN)
    for (let i = 0; i < instances.length && problems.length < 8; i++) {
      const instance = instances[i]!
      if ('features' in instance) {
        for (const name of this.features) if (!Number.isFinite(instance.features[name])) problems.push(`/instances/${i}/features/${name}: must be a finite number`)
      } else {
        const checked = this.checkObservations(instance.observations, i)
        if (typeof checked === 'string') problems.push(checked)
        else firstHour[i] = checked
      }
    }
    if (problems.length) throw invalid(problems)
    return {instances, firstHour, horizons}
  }

  /** The horizons a request asks for: every one when absent; otherwise the listed ones, each one the model forecasts. */
  private requestedHorizons(asked: unknown): number[] {
    if (asked === undefined) return this.horizons
    const list = asked as number[]
    const unknown = list.filter((h) => !this.horizons.includes(h))
    if (unknown.length) throw invalid([`/horizons: ${unknown.slice(0, 4).join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not forecast; this model forecasts ${this.horizons.join(', ')} h ahead`])
    return this.horizons.filter((h) => list.includes(h))
  }

  /** The first hour (ms), or the problem: times are whole UTC hours, consecutive, oldest first; values finite. */
  private checkObservations(observations: Observation[], i: number): number | string {
    const n = observations.length
    const first = parseHourTime(observations[0]!.time)
    const last = parseHourTime(observations[n - 1]!.time)
    if (Number.isNaN(first)) return `/instances/${i}/observations/0/time: '${observations[0]!.time}' is not a UTC hour (YYYY-MM-DDTHH:00:00Z)`
    if (Number.isNaN(last)) return `/instances/${i}/observations/${n - 1}/time: '${observations[n - 1]!.time}' is not a UTC hour (YYYY-MM-DDTHH:00:00Z)`
    // Checked before looking at the rows in between: a far-off timestamp costs nothing.
    if (last - first !== (n - 1) * HOUR_MS) {
      return `/instances/${i}/observations: ${n} rows must be ${n} consecutive hours, oldest first (at most ${this.maxObservations}), but they run from ${observations[0]!.time} to ${observations[n - 1]!.time}`
    }
    for (let h = 1; h < n - 1; h++) {
      if (parseHourTime(observations[h]!.time) !== first + h * HOUR_MS) {
        return `/instances/${i}/observations/${h}/time: expected ${new Date(first + h * HOUR_MS).toISOString().replace('.000Z', 'Z')} (consecutive hours, oldest first), got '${observations[h]!.time}'`
      }
    }
    for (let h = n - 1 - this.plan.lookback; h < n; h++) {
      for (const v of this.plan.variables) {
        if (!Number.isFinite(observations[h]![v])) return `/instances/${i}/observations/${h}/${v}: must be a finite number`
      }
    }
    return first
  }

  /**
   * Predictions for a checked request. `issuedMs[i]`: the observation hour instance i was predicted
   * from (NaN for a features instance); a number, formatted only when a prediction log wants it.
   */
  predict(request: CheckedRequest): {predictions: Prediction[]; oodFeatures: string[]; issuedMs: number[]; current: number[]} {
    const {instances, firstHour, horizons} = request
    const width = this.features.length
    const row = this.row
    const model = {name: this.identity.name, version: this.identity.version}
    const predictions: Prediction[] = new Array(instances.length)
    const issuedMs: number[] = new Array(instances.length)
    const current: number[] = new Array(instances.length)
    let oodAll: Set<string> | undefined
    for (let i = 0; i < instances.length; i++) {
      const instance = instances[i]!
      let targetTime: string | null = null
      if ('features' in instance) {
        const values = instance.features
        for (let f = 0; f < width; f++) row[f] = values[this.features[f]!]!
        issuedMs[i] = Number.NaN
      } else {
        const newest = this.observationFeatures(instance.observations, firstHour[i]!, row)
        targetTime = new Date(newest + this.model.meta.horizonHours * HOUR_MS).toISOString()
        issuedMs[i] = newest
      }
      current[i] = row[this.targetIndex]!
      const ood = this.outOfDistribution(row)
      if (ood.length) {
        oodAll ??= new Set()
        for (const f of ood) oodAll.add(f)
      }
      predictions[i] = {prediction: this.model.predictOne(row, current[i]!), target_time: targetTime, model, out_of_distribution: ood, path: this.path(row, current[i]!, issuedMs[i]!, horizons)}
    }
    return {predictions, oodFeatures: oodAll ? [...oodAll] : [], issuedMs, current}
  }

  /** The forecast path of one feature row: each horizon's value and bands (the row issued at `issuedMs`, NaN: no times). */
  private path(row: Float64Array, current: number, issuedMs: number, horizons: number[]): PathPoint[] {
    const points: PathPoint[] = new Array(horizons.length)
    const halfWidths = this.halfWidths
    for (let k = 0; k < horizons.length; k++) {
      const h = horizons[k]!
      const value = this.model.predictOneAt(h, row, current)
      const point: PathPoint = {horizon: h, target_time: Number.isNaN(issuedMs) ? null : new Date(issuedMs + h * HOUR_MS).toISOString(), value}
      const widths = halfWidths.get(h)!
      for (let l = 0; l < widths.length; l++) {
        if (Number.isFinite(widths[l]!)) point[this.intervalKeys[l]! as `interval_${string}`] = [value - widths[l]!, value + widths[l]!]
      }
      points[k] = point
    }
    return points
  }

  /**
   * The features of the newest hour of a checked observations instance, written into `out` by the
   * training definition (featureRow) from the last lookback + 1 rows; returns that hour (ms).
   */
  observationFeatures(observations: Observation[], firstHour: number, out: Float64Array): number {
    const n = observations.length
    const span = this.plan.lookback + 1
    const start = n - span
    const variables = this.plan.variables
    for (let j = 0; j < variables.length; j++) {
      const column = this.columns[j]!
      const v = variables[j]!
      for (let h = 0; h < span; h++) column[h] = observations[start + h]![v] as number
    }
    const newest = firstHour + (n - 1) * HOUR_MS
    featureRow(this.plan, this.columns, span - 1, newest, out)
    return newest
  }

  /** Features outside the range seen in training (min .. max of the training rows). */
  outOfDistribution(row: ArrayLike<number>): string[] {
    let out: string[] | undefined
    for (let f = 0; f < this.features.length; f++) {
      const x = row[f]!
      if (x < this.low[f]! || x > this.high[f]!) (out ??= []).push(this.features[f]!)
    }
    return out ?? NONE
  }
}

const NONE: string[] = []

function collect(problems: string[], validate: ValidateFunction, prefix: string): void {
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

function invalid(problems: string[]): InputError {
  return new InputError(`invalid request: ${[...new Set(problems)].slice(0, 8).join('; ')}${problems.length > 8 ? '; …' : ''}`)
}

export interface RequestSchema {
  type: 'object'
  required: string[]
  additionalProperties: false
  properties: {instances: {type: 'array'; minItems: number; maxItems: number; items: object}; horizons: object}
  featureInstance: object
  observationInstance: object
}

/** The request schema for a model: the same objects the OpenAPI document publishes. */
export function predictRequestSchema(model: LoadedModel, limits: ServeLimits, bounds: {min: number; max: number}): RequestSchema {
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
        type: 'array', minItems: bounds.min, maxItems: bounds.max,
        description: `${bounds.min} to ${bounds.max} consecutive hourly rows, oldest first (row k is the first row's hour + k h); every variable a finite number (fill gaps before sending). The newest hour is predicted from; its features read the previous ${bounds.min - 1} hours.`,
        'x-rps-consecutive-hours': true,
        items: {
          type: 'object', required: ['time', ...cfg.variables], additionalProperties: false,
          properties: {time: {type: 'string', pattern: HOUR_TIME_PATTERN, description: 'a whole UTC hour, YYYY-MM-DDTHH:00:00Z'}, ...Object.fromEntries(cfg.variables.map((v) => [v, {type: 'number'}]))},
        },
      },
    },
  }
  return {
    type: 'object', required: ['instances'], additionalProperties: false,
    properties: {
      instances: {type: 'array', minItems: 1, maxItems: limits.maxInstances, items: {oneOf: [featureInstance, observationInstance]}},
      horizons: horizonsSchema(model),
    },
    featureInstance,
    observationInstance,
  }
}

/** The optional `horizons` of a request: a subset of the model's, in any order. */
function horizonsSchema(model: LoadedModel): object {
  return {
    type: 'array', minItems: 1, maxItems: model.horizons.length, uniqueItems: true, items: {type: 'integer', enum: model.horizons},
    description: `the horizons (hours ahead) to answer, a subset of ${model.horizons.join(', ')} (default: every one)`,
  }
}
