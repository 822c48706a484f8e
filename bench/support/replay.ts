import {join} from 'node:path'
import pl from 'nodejs-polars'

import {type Params, loadParams} from '../../src/lib/config/params.js'
import {featureNames, trainingRows, buildFeatures, TIME_COLUMN} from '../../src/lib/features/build-features.js'
import {type FeatureConfig, featureConfig, horizonsOf} from '../../src/lib/features/config.js'
import {type GapReport, type HourlyTable, type ObservationBatch, mergeObservations, regularize} from '../../src/lib/features/hourly-table.js'
import {type ModelRows, toModelRows} from '../../src/lib/model/dataset.js'
import {HOUR_MS, REPLAY_STATION, loadReplaySeries} from '../../src/lib/sources/replay-series.js'
import {ROOT} from './common.js'

export const HOURS_PER_YEAR = 8760
/** The replay CSV's first row (its timestamps are 2001, a non-leap year; read as UTC). */
export const REPLAY_START_MS = Date.UTC(2001, 0, 1)

export function benchParams(): Params {
  return loadParams(join(ROOT, 'params.yaml'))
}

export function benchFeatureConfig(params = benchParams()): FeatureConfig {
  return featureConfig(params)
}

/**
 * The shipped replay year as observation batches, tiled to `years` (fractions allowed): tile k is
 * the recorded year shifted by k x 365 days, so the hourly grid stays contiguous. One batch per
 * tile, as a year-long backfill fetch would deliver it.
 */
export function replayBatches(years: number, variables: string[], file = REPLAY_STATION.file): ObservationBatch[] {
  const series = loadReplaySeries(join(ROOT, file))
  const total = Math.round(years * HOURS_PER_YEAR)
  const batches: ObservationBatch[] = []
  for (let tile = 0; tile * HOURS_PER_YEAR < total; tile++) {
    const n = Math.min(HOURS_PER_YEAR, total - tile * HOURS_PER_YEAR)
    const offset = REPLAY_START_MS + tile * HOURS_PER_YEAR * HOUR_MS
    const time = Array.from({length: n}, (_, i) => offset + i * HOUR_MS)
    const columns: Record<string, (number | null)[]> = {}
    for (const v of variables) columns[v] = (series.values[v] ?? []).slice(0, n)
    batches.push({
      collectedAt: new Date(offset + n * HOUR_MS).toISOString(),
      obs: {time, rawTime: [], columns, keyColumns: variables.filter((v) => series.values[v]), droppedFuture: 0},
    })
  }
  return batches
}

export interface FeaturizeOutput {
  table: HourlyTable
  gaps: GapReport
  features: pl.DataFrame
  dataset: pl.DataFrame
}

/**
 * featurize()'s in-memory path on batches: merge -> regularize -> buildFeatures -> trainingRows.
 * `windowHours` defaults to everything (rps featurize keeps history.window_days, 365 by default).
 */
export function featurizeBatches(batches: ObservationBatch[], cfg: FeatureConfig, windowHours?: number, onStage?: (stage: string) => void): FeaturizeOutput {
  const rows = mergeObservations(undefined, batches, cfg.variables)
  onStage?.('merge')
  const {table, gaps} = regularize(rows, cfg.variables, cfg.maxFillHours, windowHours)
  onStage?.('regularize')
  const features = buildFeatures(table, cfg)
  onStage?.('buildFeatures')
  const dataset = trainingRows(features)
  onStage?.('trainingRows')
  return {table, gaps, features, dataset}
}

/** The observation-history frame featurize writes beside the dataset. */
export function historyFrame(table: HourlyTable, cfg: FeatureConfig): pl.DataFrame {
  return pl.DataFrame({
    [TIME_COLUMN]: pl.Series(TIME_COLUMN, table.time, pl.Float64),
    collected_at: pl.Series('collected_at', table.collectedAt, pl.Utf8),
    ...Object.fromEntries(cfg.variables.map((v) => [v, pl.Series(v, table.columns[v]!, pl.Float64)])),
  })
}

/** Model rows (features, label, baselines) of the replay data tiled to `years`. */
export function replayModelRows(years: number, cfg = benchFeatureConfig(), file = REPLAY_STATION.file): {rows: ModelRows; features: string[]; dataset: pl.DataFrame} {
  const {dataset} = featurizeBatches(replayBatches(years, cfg.variables, file), cfg)
  const features = featureNames(cfg)
  return {rows: toModelRows(dataset, features, cfg.target, horizonsOf(cfg), cfg.horizonHours), features, dataset}
}
