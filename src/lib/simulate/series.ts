import type {Params} from '../config/params.js'
import {RpsError} from '../errors.js'
import {buildFeatures, featureNames, trainingRows} from '../features/build-features.js'
import {type FeatureConfig, featureConfig, horizonsOf} from '../features/config.js'
import {mergeObservations, regularize} from '../features/hourly-table.js'
import {type ModelRows, toModelRows} from '../model/dataset.js'
import {type QualityVerdict, runQualityGate} from '../quality/gate.js'
import {toObservations} from '../raw/observations.js'
import {replaySource} from '../sources/replay.js'

const HOUR_MS = 3_600_000

export interface ReplayedSeries {
  rows: ModelRows
  features: string[]
  featureConfig: FeatureConfig
  quality: QualityVerdict
  /** RPS_REPLAY_SHIFT spec applied, if any. */
  shift: string | null
}

/**
 * The replayed hours from `from` to `to` as model rows, through the pipeline's own steps: the
 * replay source (with RPS_REPLAY_SHIFT drift injection), the quality gate, the hourly table and
 * the feature function. Features are causal (lags and trailing windows), so building them once
 * over the whole span gives every hour the same row an hourly featurize would have given it.
 */
export async function replayedSeries(params: Params, from: Date, to: Date, shift: string | undefined, env: NodeJS.ProcessEnv): Promise<ReplayedSeries> {
  const hours = Math.round((to.getTime() - from.getTime()) / HOUR_MS)
  if (!(hours > 0)) throw new RpsError(`the simulated span ${from.toISOString()} .. ${to.toISOString()} is empty`, {code: 'BAD_SPAN'})
  const cfg = featureConfig(params)
  const [capture] = await replaySource.fetch({
    params, location: params.location, variables: params.variables, pastHours: hours, backfillDays: 0,
    now: to, at: to, env: {...env, RPS_REPLAY_SHIFT: shift ?? ''},
  })
  if (!capture) throw new RpsError('the replay source returned nothing', {code: 'NO_DATA'})
  const body = JSON.parse(capture.body) as unknown
  // The replayed span is older than "now" by design: freshness is judged at the replay clock.
  const quality = runQualityGate({format: 'open-meteo', body, meta: capture.meta, variables: params.variables, target: params.target, thresholds: params.quality})
  if (!quality.passed) throw new RpsError(`the replayed series fails the quality gate: ${quality.failed.join(', ')}`, {code: 'QUALITY_FAILED'})
  const obs = toObservations('open-meteo', body, cfg.variables, Date.parse(capture.meta.observedUntil))
  const merged = mergeObservations(undefined, [{collectedAt: capture.meta.collectedAt, obs}], cfg.variables)
  const {table} = regularize(merged, cfg.variables, cfg.maxFillHours)
  const features = featureNames(cfg)
  const rows = toModelRows(trainingRows(buildFeatures(table, cfg)), features, cfg.target, horizonsOf(cfg), cfg.horizonHours)
  return {rows, features, featureConfig: cfg, quality, shift: shift || null}
}
