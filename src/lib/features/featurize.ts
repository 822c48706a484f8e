import {existsSync} from 'node:fs'
import {readFile, writeFile} from 'node:fs/promises'
import {basename} from 'node:path'
import pl from 'nodejs-polars'

import type {Params, SourceName} from '../config/params.js'
import {RpsError} from '../errors.js'
import {rawFormatOf, toObservations} from '../raw/observations.js'
import {listRawBodies, qualityPathFor, rawDir} from '../raw/store.js'
import {type QuarantineRecord, quarantineRaw, readVerifiedRaw} from '../raw/verify.js'
import {removeStaleTempFiles} from '../util/atomic-file.js'
import {type LockOwner, withLock} from '../util/lock.js'
import {LABEL_COLUMN, TIME_COLUMN, buildFeatures, featureNames, trainingRows} from './build-features.js'
import {featureConfig, horizonsOf} from './config.js'
import {DATASET_LOCK, type PublishedDataset, digestFile, openDataset, processedRoot, readSummary, stageVersion, syncDvcView, versionId} from './dataset-store.js'
import {type GapReport, type HourlyTable, type ObservationBatch, mergeObservations, regularize} from './hourly-table.js'

export interface DatasetSummary {
  createdAt: string
  location: string
  target: string
  horizonHours: number
  /** Every horizon the dataset has labels for (absent in older datasets: [horizonHours]). */
  horizons?: number[]
  targetMode: 'delta' | 'level'
  label: string
  features: string[]
  rows: number
  span: {first: string | null; last: string | null}
  columns: {name: string; dtype: string}[]
  history: {hours: number; first: string | null; last: string | null}
  gaps: GapReport
  raw: {merged: number; skippedUnchecked: number; skippedFailed: number; quarantined: number}
  /** Raw files this run moved to data/quarantine (changed after fetch, unreadable). */
  quarantined: QuarantineRecord[]
  sha256: string
  /** The published version (data/processed/versions/<version>). */
  version: string
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
  onLockWait?: (holder: LockOwner) => void
}


/** The observation history of a published dataset (see openDataset), or none. */
export async function readHistory(set: PublishedDataset | undefined, variables: string[]): Promise<{table?: HourlyTable; meta: HistoryMeta}> {
  if (!set || !existsSync(set.observations)) return {meta: {mergedFiles: []}}
  const df = pl.readParquet(set.observations)
  const meta = existsSync(set.observationsMeta) ? (JSON.parse(await readFile(set.observationsMeta, 'utf8')) as HistoryMeta) : {mergedFiles: []}
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

/**
 * Raw bodies that passed the gate and are not merged yet. Each body is verified against its
 * bodySha256 first; a changed or unreadable one is quarantined and counted, not merged.
 */
async function newCheckedBatches(dir: string, merged: Set<string>, variables: string[], env: NodeJS.ProcessEnv) {
  const batches: ObservationBatch[] = []
  const names: string[] = []
  const quarantined: QuarantineRecord[] = []
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
    const raw = await readVerifiedRaw(body, 'featurize', env)
    if (!raw.ok) {
      quarantined.push(raw.quarantined)
      continue
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(raw.text)
    } catch (error) {
      quarantined.push(await quarantineRaw(body, 'BODY_NOT_JSON', `body is not valid JSON: ${(error as Error).message}`, 'featurize', env))
      continue
    }
    const obs = toObservations(rawFormatOf(raw.meta.source), parsed, variables, Date.parse(raw.meta.observedUntil))
    batches.push({collectedAt: raw.meta.collectedAt, obs})
    names.push(basename(body))
  }
  return {batches, names, skippedUnchecked, skippedFailed, quarantined}
}

async function writeParquet(df: pl.DataFrame, path: string): Promise<void> {
  df.writeParquet(path, {compression: 'zstd'})
}

/**
 * Merges newly checked raw files into the observation history, regularizes it to an hourly
 * grid, builds features and publishes {observations,dataset}.parquet + dataset.json as one new
 * version of data/processed (see dataset-store.ts). Runs under the dataset lock, so concurrent
 * runs queue and each merges into the newest published history. The previous version stays
 * current unless the new one is complete and plausible.
 */
export async function featurize(params: Params, options: FeaturizeOptions): Promise<DatasetSummary> {
  const env = options.env ?? process.env
  return withLock(DATASET_LOCK, {env, command: 'rps featurize', onWait: options.onLockWait}, () => featurizeLocked(params, options, env))
}

async function featurizeLocked(params: Params, options: FeaturizeOptions, env: NodeJS.ProcessEnv): Promise<DatasetSummary> {
  const cfg = featureConfig(params)
  const root = processedRoot(env)
  await removeStaleTempFiles(root, 0)
  const current = await openDataset(root)
  if (current && current.version !== 'flat') await syncDvcView(root, current)
  const history = await readHistory(current, cfg.variables)
  const merged = new Set(history.meta.mergedFiles)
  const fresh = await newCheckedBatches(rawDir(options.source, options.location, env), merged, cfg.variables, env)
  if (!history.table && fresh.batches.length === 0) {
    throw new RpsError(`no checked raw data for ${options.source}/${options.location}${fresh.quarantined.length ? ` (${fresh.quarantined.length} raw file(s) quarantined: ${fresh.quarantined.map((q) => q.code).join(', ')})` : ''}`, {
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
  const previous = current ? await readSummary<DatasetSummary>(current) : undefined
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
  const createdAt = (options.now ?? new Date()).toISOString()
  const staged = await stageVersion(root)
  try {
    await writeParquet(dataset, staged.path('dataset.parquet'))
    await writeParquet(historyDf, staged.path('observations.parquet'))
    await writeFile(staged.path('observations.json'), JSON.stringify({mergedFiles: [...merged, ...fresh.names].sort()}) + '\n')
    const times = dataset.getColumn(TIME_COLUMN).toArray() as number[]
    const summary: DatasetSummary = {
      createdAt,
      location: options.location,
      target: cfg.target,
      horizonHours: cfg.horizonHours,
      horizons: horizonsOf(cfg),
      targetMode: cfg.targetMode,
      label: LABEL_COLUMN,
      features: featureNames(cfg),
      rows: dataset.height,
      span: {first: iso(times[0]), last: iso(times.at(-1))},
      columns: dataset.columns.map((name) => ({name, dtype: String(dataset.getColumn(name).dtype)})),
      history: {hours: table.time.length, first: iso(table.time[0]), last: iso(table.time.at(-1))},
      gaps,
      raw: {merged: fresh.names.length, skippedUnchecked: fresh.skippedUnchecked, skippedFailed: fresh.skippedFailed, quarantined: fresh.quarantined.length},
      quarantined: fresh.quarantined,
      sha256: (await digestFile(staged.path('dataset.parquet'))).sha256,
      version: '',
    }
    // The version id is derived from createdAt and the dataset hash, both known before commit.
    summary.version = versionId(createdAt, summary.sha256)
    await writeFile(staged.path('dataset.json'), JSON.stringify(summary, null, 2) + '\n')
    const published = await staged.commit(createdAt)
    if (published.version !== summary.version) throw new Error(`published version ${published.version} != ${summary.version}`)
    return summary
  } catch (error) {
    await staged.abort()
    throw error
  }
}

function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString()
}
