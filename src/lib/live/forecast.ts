import type {Params} from '../config/params.js'
import {RpsError} from '../errors.js'
import {featureNames, newestHourFeatures} from '../features/build-features.js'
import {datasetLocation, openDataset} from '../features/dataset-store.js'
import {readHistory} from '../features/featurize.js'
import type {HourlyTable} from '../features/hourly-table.js'
import {MlflowClient} from '../mlflow/client.js'
import {type LoadedModel, loadModelDir} from '../model/model-dir.js'
import {ALIASES, downloadVersion, readRegistryStamp} from '../model/registry.js'
import {modelSection} from '../model/settings.js'
import {writeFileAtomic} from '../util/atomic-file.js'
import {type LiveErrors, liveErrors, liveErrorsPath} from './live-errors.js'
import {type PredictionRecord, appendPredictions, predictionLogPath, readPredictionLog} from './prediction-log.js'

const HOUR_MS = 3_600_000

export interface ForecastOptions {
  env?: NodeJS.ProcessEnv
  /** Use this model directory instead of the registry alias. */
  modelDir?: string
  alias?: string
  logPath?: string
  liveErrorsFile?: string
  now?: Date
}

export interface ForecastResult {
  model: {name: string; version: string; alias: string} | null
  /** The forecast made from the newest observation hour (also when it was already logged). */
  forecast: PredictionRecord | null
  appended: boolean
  /** Why no line was appended, when none was. */
  skipped: string | null
  predictionLog: string
  liveErrorsFile: string | null
  liveErrors: LiveErrors | null
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
export function forecastFromNewestHour(model: LoadedModel, table: HourlyTable): {issuedMs: number; prediction: number; persistence: number} | {missing: string[]; issuedMs: number} {
  const cfg = model.meta.featureConfig
  const {values: row, missing} = newestHourFeatures(table, cfg)
  const last = table.time.length - 1
  const names = featureNames(cfg)
  const issuedMs = table.time[last]!
  if (missing.length) return {missing, issuedMs}
  const byName = new Map(names.map((f, j) => [f, row[j] as number]))
  const persistence = table.columns[cfg.target]![last]!
  const X = [model.meta.features.map((f) => byName.get(f)!)]
  return {issuedMs, prediction: model.predict(X, [persistence])[0]!, persistence}
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
  let appended = false
  let skipped: string | null = null
  let target = params.target
  if (!handle) {
    skipped = `'${modelSection(params).registered_name}' has no @${options.alias ?? ALIASES.champion} yet: nothing to forecast with`
  } else {
    const issuedAt = new Date(history.table.time.at(-1)!).toISOString()
    const existing = log.records.find((r) => Date.parse(r.issued_at) === Date.parse(issuedAt) && r.model.name === handle.identity.name && r.model.version === handle.identity.version)
    if (existing) {
      forecast = existing
      skipped = `already logged: v${handle.identity.version} from ${issuedAt}`
    } else {
      const model = await handle.load()
      target = model.meta.target
      const extra = model.meta.featureConfig.variables.filter((v) => !params.variables.includes(v))
      if (extra.length) history = await readHistory(dataset, [...params.variables, ...extra])
      const made = forecastFromNewestHour(model, history.table!)
      if ('missing' in made) {
        skipped = `cannot forecast from ${issuedAt}: the newest hour lacks ${made.missing.slice(0, 5).join(', ')}${made.missing.length > 5 ? ', …' : ''}`
      } else {
        forecast = {
          issued_at: issuedAt, target_time: new Date(made.issuedMs + model.meta.horizonHours * HOUR_MS).toISOString(),
          prediction: made.prediction, persistence: made.persistence, model: {name: handle.identity.name, version: handle.identity.version},
          source: 'forecast', logged_at: now.toISOString(),
        }
        await appendPredictions(logPath, [forecast])
        log.records.push(forecast)
        appended = true
      }
    }
  }
  let report: LiveErrors | null = null
  if (log.records.length > 0) {
    const table = history.table!
    const values = table.columns[target] ?? []
    const index = new Map(table.time.map((t, i) => [t, i]))
    report = liveErrors({
      records: log.records, malformed: log.malformed, target, now,
      observed: (ms) => {
        const i = index.get(ms)
        return i === undefined ? undefined : values[i]
      },
      dataEnd: table.time.at(-1),
    })
    await writeFileAtomic(outFile, JSON.stringify(report, null, 2) + '\n')
  }
  return {model: handle?.identity ?? null, forecast, appended, skipped, predictionLog: logPath, liveErrorsFile: report ? outFile : null, liveErrors: report}
}
