import {existsSync} from 'node:fs'
import {readFile, readdir} from 'node:fs/promises'
import {join} from 'node:path'
import pl from 'nodejs-polars'

import {LABEL_COLUMN, SEASONAL_COLUMN, TARGET_TIME_COLUMN, TARGET_VALUE_COLUMN, TIME_COLUMN} from '../features/build-features.js'
import {datasetLocation, readSummary, requireDataset} from '../features/dataset-store.js'
import type {DatasetSummary} from '../features/featurize.js'
import {countQuarantined} from '../raw/verify.js'
import type {QualityReport} from '../quality/check-files.js'
import {dataDir} from '../raw/store.js'
import {type ColumnProfile, pearson, profileColumn} from './stats.js'

export interface DatasetProfile {
  generatedAt: string
  dataset: {path: string; sha256: string; rows: number; columns: number; span: DatasetSummary['span']; location: string; target: string; horizonHours: number; targetMode: string}
  history: DatasetSummary['history']
  gaps: DatasetSummary['gaps']
  columns: ColumnProfile[]
  correlations: {feature: string; withLabel: number | null; withTarget: number | null}[]
  coverage: {day: string; hours: number; min: number | null; mean: number | null; max: number | null}[]
  quality: QualityReport | null
  /** Raw files moved to data/quarantine (changed after fetch or unreadable): never in the history. */
  quarantinedRawFiles: number
}

function roleOf(name: string, summary: DatasetSummary): ColumnProfile['role'] {
  if (name === TIME_COLUMN || name === TARGET_TIME_COLUMN) return 'time'
  if (name === LABEL_COLUMN) return 'label'
  if (name === TARGET_VALUE_COLUMN) return 'target'
  if (name === SEASONAL_COLUMN) return 'other'
  return summary.features.includes(name) ? 'feature' : 'other'
}

/** The newest quality report anywhere under data/raw (by collection stamp in the file name). */
export async function latestQualityReport(env: NodeJS.ProcessEnv = process.env): Promise<QualityReport | null> {
  const root = join(dataDir(env), 'raw')
  const found: string[] = []
  const walk = async (dir: string) => {
    for (const entry of await readdir(dir, {withFileTypes: true}).catch(() => [])) {
      const full = join(dir, entry.name)
      if (entry.isDirectory()) await walk(full)
      else if (entry.name.endsWith('.quality.json')) found.push(full)
    }
  }
  await walk(root)
  const newest = found.sort((a, b) => (a.split('/').at(-1)! < b.split('/').at(-1)! ? -1 : 1)).at(-1)
  return newest ? (JSON.parse(await readFile(newest, 'utf8')) as QualityReport) : null
}

/** Daily coverage of the target in the observation history: hours present and min/mean/max. */
function dailyCoverage(history: pl.DataFrame, target: string): DatasetProfile['coverage'] {
  const times = history.getColumn(TIME_COLUMN).toArray() as number[]
  const values = history.getColumn(target).toArray() as (number | null)[]
  const days = new Map<string, number[]>()
  times.forEach((t, i) => {
    const day = new Date(t).toISOString().slice(0, 10)
    if (!days.has(day)) days.set(day, [])
    const v = values[i]
    if (v !== null && v !== undefined) days.get(day)!.push(v)
  })
  return [...days.entries()].map(([day, vs]) => ({
    day, hours: vs.length,
    min: vs.length ? Math.min(...vs) : null,
    mean: vs.length ? vs.reduce((a, b) => a + b, 0) / vs.length : null,
    max: vs.length ? Math.max(...vs) : null,
  }))
}

export async function buildProfile(env: NodeJS.ProcessEnv = process.env, now = new Date()): Promise<DatasetProfile> {
  const paths = await requireDataset(datasetLocation(env))
  const summary = await readSummary<DatasetSummary>(paths)
  const df = pl.readParquet(paths.dataset)
  const columns = df.columns.map((name) => profileColumn(name, String(df.getColumn(name).dtype), roleOf(name, summary), df.getColumn(name).toArray() as (number | null)[]))
  const label = df.getColumn(LABEL_COLUMN).toArray() as (number | null)[]
  const target = df.getColumn(TARGET_VALUE_COLUMN).toArray() as (number | null)[]
  const correlations = summary.features.map((feature) => {
    const values = df.getColumn(feature).toArray() as (number | null)[]
    return {feature, withLabel: pearson(values, label), withTarget: pearson(values, target)}
  })
  const history = existsSync(paths.observations) ? pl.readParquet(paths.observations) : df
  return {
    generatedAt: now.toISOString(),
    dataset: {
      path: paths.dataset, sha256: summary.sha256, rows: df.height, columns: df.width, span: summary.span,
      location: summary.location, target: summary.target, horizonHours: summary.horizonHours, targetMode: summary.targetMode,
    },
    history: summary.history,
    gaps: summary.gaps,
    columns,
    correlations,
    coverage: dailyCoverage(history, summary.target),
    quality: await latestQualityReport(env),
    quarantinedRawFiles: await countQuarantined(env),
  }
}
