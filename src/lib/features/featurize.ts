import {createHash} from 'node:crypto'
import {existsSync} from 'node:fs'
import {mkdir, readFile, rename, rm} from 'node:fs/promises'
import {basename, join} from 'node:path'
import pl from 'nodejs-polars'

import type {Params, SourceName} from '../config/params.js'
import {RpsError} from '../errors.js'
import {rawFormatOf, toObservations} from '../raw/observations.js'
import {dataDir, listRawBodies, qualityPathFor, rawDir, readMeta} from '../raw/store.js'
import {writeFileAtomic} from '../util/atomic-file.js'
import {LABEL_COLUMN, TIME_COLUMN, buildFeatures, featureNames, trainingRows} from './build-features.js'
import {featureConfig} from './config.js'
import {type GapReport, type HourlyTable, type ObservationBatch, mergeObservations, regularize} from './hourly-table.js'

export interface ProcessedPaths {
  dir: string
  observations: string
  observationsMeta: string
  dataset: string
  summary: string
}

export function processedPaths(env: NodeJS.ProcessEnv = process.env): ProcessedPaths {
  const dir = join(dataDir(env), 'processed')
  return {
    dir,
    observations: join(dir, 'observations.parquet'),
    observationsMeta: join(dir, 'observations.json'),
    dataset: join(dir, 'dataset.parquet'),
    summary: join(dir, 'dataset.json'),
  }
}

export interface DatasetSummary {
  createdAt: string
  location: string
  target: string
  horizonHours: number
  targetMode: 'delta' | 'level'
  label: string
  features: string[]
  rows: number
  span: {first: string | null; last: string | null}
  columns: {name: string; dtype: string}[]
  history: {hours: number; first: string | null; last: string | null}
  gaps: GapReport
  raw: {merged: number; skippedUnchecked: number; skippedFailed: number}
  sha256: string
}

interface HistoryMeta {
  mergedFiles: string[]
}

export interface FeaturizeOptions {
  source: SourceName
  location: string
  env?: NodeJS.ProcessEnv
  now?: Date
  /** Accept a dataset that shrank to less than half of the previous one. */
  force?: boolean
}

export async function readHistory(paths: ProcessedPaths, variables: string[]): Promise<{table?: HourlyTable; meta: HistoryMeta}> {
  if (!existsSync(paths.observations)) return {meta: {mergedFiles: []}}
  const df = pl.readParquet(paths.observations)
  const meta = existsSync(paths.observationsMeta) ? (JSON.parse(await readFile(paths.observationsMeta, 'utf8')) as HistoryMeta) : {mergedFiles: []}
  const columns: Record<string, (number | null)[]> = {}
  for (const v of variables) columns[v] = df.columns.includes(v) ? (df.getColumn(v).toArray() as (number | null)[]) : new Array(df.height).fill(null)
  return {
    table: {
      time: df.getColumn(TIME_COLUMN).toArray() as number[],
      collectedAt: df.getColumn('collected_at').toArray() as (string | null)[],
      columns,
    },
    meta,
  }
}

/** Raw bodies that passed the gate and are not merged yet. */
async function newCheckedBatches(dir: string, merged: Set<string>, variables: string[]) {
  const batches: ObservationBatch[] = []
  const names: string[] = []
  let skippedUnchecked = 0
  let skippedFailed = 0
  for (const body of await listRawBodies(dir)) {
    if (merged.has(basename(body))) continue
    const qualityPath = qualityPathFor(body)
    if (!existsSync(qualityPath)) {
      skippedUnchecked++
      continue
    }
    const quality = JSON.parse(await readFile(qualityPath, 'utf8')) as {passed: boolean}
    if (!quality.passed) {
      skippedFailed++
      continue
    }
    const meta = await readMeta(body)
    const obs = toObservations(rawFormatOf(meta.source), JSON.parse(await readFile(body, 'utf8')), variables, Date.parse(meta.observedUntil))
    batches.push({collectedAt: meta.collectedAt, obs})
    names.push(basename(body))
  }
  return {batches, names, skippedUnchecked, skippedFailed}
}

async function writeParquetAtomic(df: pl.DataFrame, path: string): Promise<void> {
  const tmp = join(path, '..', `.${basename(path)}.${process.pid}.tmp`)
  await mkdir(join(path, '..'), {recursive: true})
  try {
    df.writeParquet(tmp, {compression: 'zstd'})
    await rename(tmp, path)
  } catch (error) {
    await rm(tmp, {force: true})
    throw error
  }
}

/**
 * Merges newly checked raw files into the observation history, regularizes it to an hourly
 * grid, builds features and writes data/processed/{observations,dataset}.parquet + dataset.json.
 * The previous dataset stays in place unless the new one is complete and plausible.
 */
export async function featurize(params: Params, options: FeaturizeOptions): Promise<DatasetSummary> {
  const env = options.env ?? process.env
  const cfg = featureConfig(params)
  const paths = processedPaths(env)
  const history = await readHistory(paths, cfg.variables)
  const merged = new Set(history.meta.mergedFiles)
  const fresh = await newCheckedBatches(rawDir(options.source, options.location, env), merged, cfg.variables)
  if (!history.table && fresh.batches.length === 0) {
    throw new RpsError(`no checked raw data for ${options.source}/${options.location}`, {
      code: 'NO_CHECKED_DATA', suggestions: [`run: rps fetch --source ${options.source} && rps check --source ${options.source}`],
    })
  }
  const rows = mergeObservations(history.table, fresh.batches, cfg.variables)
  const windowHours = (params.history?.window_days ?? 365) * 24
  const {table, gaps} = regularize(rows, cfg.variables, cfg.maxFillHours, windowHours)
  const features = buildFeatures(table, cfg)
  const dataset = trainingRows(features)
  if (dataset.height === 0) {
    throw new RpsError(`featurize produced no complete rows from ${table.time.length} hour(s) of history; need more than ${cfg.lags.at(-1) ?? 0} + ${cfg.horizonHours} contiguous hours`, {
      code: 'DATASET_EMPTY', suggestions: ['fetch more history, e.g. rps fetch --backfill-days 30'],
    })
  }
  const previous = existsSync(paths.summary) ? (JSON.parse(await readFile(paths.summary, 'utf8')) as DatasetSummary) : undefined
  if (previous && !options.force && dataset.height < previous.rows / 2) {
    throw new RpsError(`the new dataset has ${dataset.height} rows, less than half of the current ${previous.rows}; keeping the current one`, {
      code: 'DATASET_SHRANK', suggestions: ['check the raw data, or pass --force to accept it'],
    })
  }
  const historyDf = pl.DataFrame({
    [TIME_COLUMN]: pl.Series(TIME_COLUMN, table.time, pl.Float64),
    collected_at: pl.Series('collected_at', table.collectedAt, pl.Utf8),
    ...Object.fromEntries(cfg.variables.map((v) => [v, pl.Series(v, table.columns[v]!, pl.Float64)])),
  })
  await writeParquetAtomic(dataset, paths.dataset)
  await writeParquetAtomic(historyDf, paths.observations)
  await writeFileAtomic(paths.observationsMeta, JSON.stringify({mergedFiles: [...merged, ...fresh.names].sort()}) + '\n')
  const times = dataset.getColumn(TIME_COLUMN).toArray() as number[]
  const summary: DatasetSummary = {
    createdAt: (options.now ?? new Date()).toISOString(),
    location: options.location,
    target: cfg.target,
    horizonHours: cfg.horizonHours,
    targetMode: cfg.targetMode,
    label: LABEL_COLUMN,
    features: featureNames(cfg),
    rows: dataset.height,
    span: {first: iso(times[0]), last: iso(times.at(-1))},
    columns: dataset.columns.map((name) => ({name, dtype: String(dataset.getColumn(name).dtype)})),
    history: {hours: table.time.length, first: iso(table.time[0]), last: iso(table.time.at(-1))},
    gaps,
    raw: {merged: fresh.names.length, skippedUnchecked: fresh.skippedUnchecked, skippedFailed: fresh.skippedFailed},
    sha256: createHash('sha256').update(await readFile(paths.dataset)).digest('hex'),
  }
  await writeFileAtomic(paths.summary, JSON.stringify(summary, null, 2) + '\n')
  return summary
}

function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString()
}
