import {rm} from 'node:fs/promises'

import type {Params} from '../config/params.js'
import {RpsError} from '../errors.js'
import {featureNames, newestHourFeatures} from '../features/build-features.js'
import {datasetLocation, openDataset} from '../features/dataset-store.js'
import {readHistory} from '../features/featurize.js'
import type {HourlyTable} from '../features/hourly-table.js'
import {MlflowClient} from '../mlflow/client.js'
import {aciSettings} from '../features/config.js'
import {levelKey} from '../stats/intervals.js'
import {type LoadedModel, loadModelDir} from '../model/model-dir.js'
import {ALIASES, downloadVersion, readRegistryStamp} from '../model/registry.js'
import {modelSection} from '../model/settings.js'
import {writeFileAtomic} from '../util/atomic-file.js'
import {forecastPagePath, observedUpTo, renderForecastPage} from './forecast-page.js'
import {type LiveErrors, type LiveIntervals, type VersionCalibration, leadHours, liveErrors, liveErrorsPath} from './live-errors.js'
import {type BandSource, type PredictionRecord, appendPredictions, predictionLogPath, readPredictionLog} from './prediction-log.js'

const HOUR_MS = 3_600_000

export interface ForecastOptions {
  env?: NodeJS.ProcessEnv
  /** Use this model directory instead of the registry alias. */
  modelDir?: string
  alias?: string
  logPath?: string
  liveErrorsFile?: string
  /** Where to write the forecast page (default: RPS_FORECAST_PAGE, else forecast.html beside the live errors). */
  pageFile?: string
  now?: Date
}

export interface ForecastResult {
  model: {name: string; version: string; alias: string} | null
  /** The forecast made from the newest observation hour (also when it was already logged): the longest horizon's. */
  forecast: PredictionRecord | null
  /** Every horizon's forecast from that hour, with its bands, ascending. */
  path: PredictionRecord[]
  appended: boolean
  /** Why no line was appended, when none was. */
  skipped: string | null
  predictionLog: string
  liveErrorsFile: string | null
  liveErrors: LiveErrors | null
  /** The forecast page of `path`, when there is one. */
  pageFile: string | null
}

interface ModelHandle {
  identity: {name: string; version: string; alias: string}
  load(): Promise<LoadedModel>
}

/** The model to forecast with: a local directory (its registry.json stamp names the version), or the alias through MLflow. */
async function resolveModel(params: Params, options: ForecastOptions, env: NodeJS.ProcessEnv): Promise<ModelHandle | undefined> {
  if (options.modelDir) {
    const model = await loadModelDir(options.modelDir)
    const stamp = await readRegistryStamp(options.modelDir)
    return {identity: {name: stamp?.name ?? model.meta.name, version: stamp?.version ?? 'local', alias: stamp?.alias ?? 'local'}, load: async () => model}
  }
  const client = MlflowClient.fromEnv(env)
  const alias = options.alias ?? ALIASES.champion
  const version = await client.getVersionByAlias(modelSection(params).registered_name, alias)
  if (!version) return undefined
  return {identity: {name: version.name, version: version.version, alias}, load: () => downloadVersion(client, version)}
}

/** The model's forecast from the newest hour of the history, built with the model's own feature configuration. */
export function forecastFromNewestHour(model: LoadedModel, table: HourlyTable): {issuedMs: number; prediction: number; persistence: number; path: {horizon: number; value: number}[]} | {missing: string[]; issuedMs: number} {
  const cfg = model.meta.featureConfig
  const {values: row, missing} = newestHourFeatures(table, cfg)
  const last = table.time.length - 1
  const names = featureNames(cfg)
  const issuedMs = table.time[last]!
  if (missing.length) return {missing, issuedMs}
  const byName = new Map(names.map((f, j) => [f, row[j] as number]))
  const persistence = table.columns[cfg.target]![last]!
  const X = [model.meta.features.map((f) => byName.get(f)!)]
  const path = model.horizons.map((h) => ({horizon: h, value: model.predictHorizon(h, X, [persistence])[0]!}))
  return {issuedMs, prediction: model.predict(X, [persistence])[0]!, persistence, path}
}

/**
 * `rps forecast`: forecasts from the newest observation hour with the champion and appends it to
 * the prediction log (once per hour and model version), then joins the whole log with the
 * observation history and writes the live error report atomically.
 */
export async function forecastAndScore(params: Params, options: ForecastOptions = {}): Promise<ForecastResult> {
  const env = options.env ?? process.env
  const now = options.now ?? new Date()
  const logPath = options.logPath ?? predictionLogPath(env)
  const outFile = options.liveErrorsFile ?? liveErrorsPath(env)
  const root = datasetLocation(env)
  const dataset = await openDataset(root)
  let history = await readHistory(dataset, params.variables)
  if (!history.table || history.table.time.length === 0) {
    throw new RpsError(`no observation history in ${root}`, {code: 'NO_DATASET', suggestions: ['run: rps fetch && rps check && rps featurize']})
  }
  const log = await readPredictionLog(logPath)
  const handle = await resolveModel(params, options, env)
  let forecast: PredictionRecord | null = null
  let path: PredictionRecord[] = []
  let appended = false
  let skipped: string | null = null
  let target = params.target
  let calibration: VersionCalibration | undefined
  const report = (records: PredictionRecord[]) => {
    const table = history.table!
    const values = table.columns[target] ?? []
    const index = new Map(table.time.map((t, i) => [t, i]))
    return liveErrors({
      records, malformed: log.malformed, target, now, horizonHours: params.horizon_hours, calibration, aci: aciSettings(params),
      observed: (ms) => {
        const i = index.get(ms)
        return i === undefined ? undefined : values[i]
      },
      dataEnd: table.time.at(-1),
    })
  }
  if (!handle) {
    skipped = `'${modelSection(params).registered_name}' has no @${options.alias ?? ALIASES.champion} yet: nothing to forecast with`
  } else {
    const issuedAt = new Date(history.table.time.at(-1)!).toISOString()
    const sameIssue = (r: PredictionRecord) => Date.parse(r.issued_at) === Date.parse(issuedAt) && r.model.name === handle.identity.name && r.model.version === handle.identity.version && r.source !== 'serve'
    const model = await handle.load()
    target = model.meta.target
    if (model.meta.calibration) calibration = {version: handle.identity.version, levels: model.meta.calibration.levels, halfWidth: model.meta.calibration.halfWidth}
    const existing = log.records.filter(sameIssue)
    if (existing.length) {
      path = existing.sort((a, b) => leadHours(a) - leadHours(b))
      forecast = path.find((r) => leadHours(r) === model.meta.horizonHours) ?? path.at(-1)!
      skipped = `already logged: v${handle.identity.version} from ${issuedAt}`
    } else {
      const extra = model.meta.featureConfig.variables.filter((v) => !params.variables.includes(v))
      if (extra.length) history = await readHistory(dataset, [...params.variables, ...extra])
      const made = forecastFromNewestHour(model, history.table!)
      if ('missing' in made) {
        skipped = `cannot forecast from ${issuedAt}: the newest hour lacks ${made.missing.slice(0, 5).join(', ')}${made.missing.length > 5 ? ', …' : ''}`
      } else {
        // Each horizon's band: its live (ACI) half-width once the version has enough scored forecasts, else the calibrated one.
        const live = calibration ? report(log.records).intervals ?? undefined : undefined
        path = made.path.map(({horizon, value}) => ({
          issued_at: issuedAt, target_time: new Date(made.issuedMs + horizon * HOUR_MS).toISOString(),
          prediction: value, persistence: made.persistence, model: {name: handle.identity.name, version: handle.identity.version},
          source: 'forecast' as const, logged_at: now.toISOString(), horizon, ...bandsOf(value, horizon, calibration, live),
        }))
        forecast = path.find((r) => r.horizon === model.meta.horizonHours)!
        await appendPredictions(logPath, path)
        log.records.push(...path)
        appended = true
      }
    }
  }
  let written: LiveErrors | null = null
  if (log.records.length > 0) {
    written = report(log.records)
    await writeFileAtomic(outFile, JSON.stringify(written, null, 2) + '\n')
  }
  const page = options.pageFile ?? forecastPagePath(outFile, env)
  let pageFile: string | null = null
  if (handle && path.length) {
    const issuedAt = path[0]!.issued_at
    pageFile = page
    await writeFileAtomic(page, await renderForecastPage({
      location: params.location.name, target, model: handle.identity, issuedAt, path, writtenAt: now.toISOString(),
      observed: observedUpTo(history.table!, target, Date.parse(issuedAt)),
    }))
  } else {
    // An earlier hour's page must not pass for this one's (the DAG keeps the page with the run's reports).
    await rm(page, {force: true})
  }
  return {model: handle?.identity ?? null, forecast, path, appended, skipped, predictionLog: logPath, liveErrorsFile: written ? outFile : null, liveErrors: written, pageFile}
}

/** A forecast's bands: value ± the live half-width of its horizon and level, else the calibrated one; each with its source. */
function bandsOf(value: number, horizon: number, calibration: VersionCalibration | undefined, live: LiveIntervals | undefined): Pick<PredictionRecord, 'bands' | 'band_source'> {
  if (!calibration) return {}
  const bands: Record<string, [number, number]> = {}
  const source: Record<string, BandSource> = {}
  for (const level of calibration.levels) {
    const key = levelKey(level)
    const band = live?.by_horizon[String(horizon)]?.[key]
    const isLive = band !== undefined && band.n >= 24
    const width = isLive ? band.halfWidth : calibration.halfWidth[String(horizon)]?.[key]
    if (width === undefined || !Number.isFinite(width)) continue
    bands[key] = [value - width, value + width]
    source[key] = isLive ? 'live' : 'calibration'
  }
  return {bands, band_source: source}
}
