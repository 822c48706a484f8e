import {existsSync} from 'node:fs'
import {mkdir, mkdtemp, rename, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {basename, dirname, join, resolve} from 'node:path'
import pl from 'nodejs-polars'

import type {Params} from '../config/params.js'
import {dataVersion} from '../dvc/data-version.js'
import {RpsError} from '../errors.js'
import {featureNames} from '../features/build-features.js'
import {featureConfig, horizonsOf, intervalLevels} from '../features/config.js'
import {datasetLocation, dvcViewPath, processedRoot, readSummary, requireDataset} from '../features/dataset-store.js'
import type {DatasetSummary} from '../features/featurize.js'
import {type Metric, MlflowClient, type ModelVersion} from '../mlflow/client.js'
import {latestQualityReport} from '../profile/profile.js'
import {codeVersion, rpsVersion} from '../util/versions.js'
import {workDir} from '../util/project.js'
import {timeSplit, toModelRows} from './dataset.js'
import {computeDigests, DIGESTS_TAG} from './digests.js'
import {checkEnoughHistory, fitModel} from './fit.js'
import {type ModelMeta, loadModelDir, writeModelDir} from './model-dir.js'
import {forecastPlotPng, residualsPlotPng} from './plots.js'
import {closeStaleRuns, mlflowPatienceMs, ownerTags} from './run-state.js'
import {candidateAlias} from './registry.js'
import {type ModelSection, forestParams as toForestParams, modelSection} from './settings.js'

export const CHALLENGER = 'challenger'

export interface TrainOptions {
  env?: NodeJS.ProcessEnv
  /** Where the model directory is also kept locally (default build/model). */
  outDir?: string
  overrides?: Partial<Pick<ModelSection, 'n_estimators' | 'max_depth' | 'max_samples' | 'workers' | 'seed'>>
  /** The alias the new version gets (default challenger); a pull request's candidate, e.g. pr-42, leaves @challenger alone. */
  alias?: string
  onProgress?: (line: string) => void
}

export interface TrainResult {
  runId: string
  experimentId: string
  registeredModel: string
  version: string
  alias: string
  modelDir: string
  dataVersion: string
  trainingSeconds: number
  metrics: ModelMeta['metrics']
  holdoutSkillVsBestBaseline: number
  /** RUNNING runs of earlier trainings whose process was gone, closed FAILED before this one started. */
  closedStaleRuns: string[]
}

/** Replaces `dir` by `fresh` (both on one file system): the old one is moved aside first, removed last. */
async function replaceDir(fresh: string, dir: string): Promise<void> {
  const old = join(dirname(dir), `.${basename(dir)}.old-${process.pid}`)
  await rm(old, {recursive: true, force: true})
  if (existsSync(dir)) await rename(dir, old)
  await rename(fresh, dir)
  await rm(old, {recursive: true, force: true})
}

export {scoreSplit} from './fit.js'

function flattenMetrics(metrics: ModelMeta['metrics'], timestamp: number): Metric[] {
  const out: Metric[] = []
  for (const [split, bySeries] of Object.entries(metrics)) {
    for (const [series, s] of Object.entries(bySeries)) {
      const prefix = series === 'model' ? split : `${series}_${split}`
      out.push({key: `${prefix}_rmse`, value: s.rmse, timestamp, step: 0}, {key: `${prefix}_mae`, value: s.mae, timestamp, step: 0}, {key: `${prefix}_r2`, value: s.r2, timestamp, step: 0})
    }
  }
  return out
}

/** Every horizon's holdout RMSE and MAE, and each band's honest holdout coverage: holdout_rmse_h1, holdout_coverage_0.8_h1. */
function horizonMetrics(meta: ModelMeta, timestamp: number): Metric[] {
  const out: Metric[] = []
  for (const [h, scores] of Object.entries(meta.metricsByHorizon ?? {})) {
    out.push({key: `holdout_rmse_h${h}`, value: scores.model!.rmse, timestamp, step: 0}, {key: `holdout_mae_h${h}`, value: scores.model!.mae, timestamp, step: 0})
    for (const [level, c] of Object.entries(meta.calibration?.holdoutCoverage[h] ?? {})) {
      if (Number.isFinite(c)) out.push({key: `holdout_coverage_${level}_h${h}`, value: c, timestamp, step: 0})
    }
  }
  return out
}

/**
 * Trains on data/processed/dataset.parquet with a time-ordered split, logs everything to one
 * MLflow run, registers a model version and points @challenger (or `alias`) at it. A failure marks the run
 * FAILED (waiting up to RPS_MLFLOW_PATIENCE_S for MLflow to answer again) and leaves no new
 * version behind. RUNNING runs of earlier trainings whose process is gone are closed FAILED
 * first. The local copy (build/model) is written beside its place and renamed into it only after
 * the version is registered.
 */
export async function trainModel(params: Params, options: TrainOptions = {}): Promise<TrainResult> {
  const env = options.env ?? process.env
  const progress = options.onProgress ?? (() => {})
  const section = {...modelSection(params), ...options.overrides}
  const alias = candidateAlias(options.alias ?? CHALLENGER)
  const published = await requireDataset(datasetLocation(env))
  const summary = await readSummary<DatasetSummary>(published)
  const cfg = featureConfig(params)
  const horizons = horizonsOf(cfg)
  if (JSON.stringify(summary.features) !== JSON.stringify(featureNames(cfg)) || summary.horizonHours !== cfg.horizonHours || summary.target !== cfg.target
    || JSON.stringify(summary.horizons ?? [summary.horizonHours]) !== JSON.stringify(horizons)) {
    throw new RpsError('the dataset was built with other features, target or horizons than params.yaml', {code: 'DATASET_STALE', suggestions: ['run: rps featurize']})
  }
  const rows = toModelRows(pl.readParquet(published.dataset), summary.features, summary.target, horizons, cfg.horizonHours)
  // Fails on too little history before any MLflow run exists.
  checkEnoughHistory(timeSplit(rows, section.holdout_days, section.validation_days, cfg.horizonHours, section.train_window_days ?? 0), section)
  const version = await dataVersion(published.dataset, dvcViewPath(processedRoot(env), 'dataset.parquet'))
  const client = MlflowClient.fromEnv(env)
  const experiment = await client.getOrCreateExperiment(section.experiment)
  const closed = await closeStaleRuns(client, experiment.experiment_id)
  for (const c of closed) progress(`closed stale run ${c.runId} as FAILED: ${c.reason}`)
  const patienceMs = mlflowPatienceMs(env)
  const code = await codeVersion(env)
  const run = await client.createRun(experiment.experiment_id, `train-${summary.location}-${new Date().toISOString().slice(0, 16)}`, {
    'mlflow.source.git.commit': code,
    'mlflow.source.name': 'rps train',
    'rps.code_version': code,
    'rps.data_version': version.md5,
    'rps.data_versioned_by_dvc': String(version.versioned),
    'rps.source': env.RPS_SOURCE ?? params.fetch.source,
    'rps.location': summary.location,
    'rps.horizon_hours': String(cfg.horizonHours),
    'rps.horizons': horizons.join(','),
    'rps.target': cfg.target,
    ...ownerTags(),
  })
  progress(`MLflow run ${run.run_id} in experiment '${section.experiment}'`)
  const scratch = await mkdtemp(join(tmpdir(), 'rps-train-'))
  let created: ModelVersion | undefined
  let previousChallenger: string | undefined
  const outDir = resolve(options.outDir ?? join(workDir(), 'build/model'))
  const pending = join(dirname(outDir), `.${basename(outDir)}.pending-${process.pid}`)
  try {
    const fitted = await fitModel({
      rows, features: summary.features, featureConfig: cfg, section,
      provenance: {dataVersion: version.md5, codeVersion: code, rpsVersion: rpsVersion()},
      onTree: (done, total) => progress(`trees ${done}/${total}`),
      driftWindowHours: (params.drift as {window_hours?: number} | undefined)?.window_hours,
      intervalLevels: intervalLevels(params),
    })
    const {forest, shorter, meta, split, holdoutPred, holdoutSkill} = fitted
    const forestParams = toForestParams(section)
    const trainingSeconds = meta.trainingSeconds
    const modelDir = join(scratch, 'model')
    await writeModelDir(modelDir, forest, meta, run.run_id, shorter)
    // What is served is what was measured: the written directory must predict what fitModel scored, at every horizon.
    const reloaded = await loadModelDir(modelDir)
    const X = split.holdout.X.slice(0, 24)
    const current = split.holdout.current.slice(0, 24)
    for (const h of horizons) {
      const again = reloaded.predictHorizon(h, X, current)
      const before = fitted.model.predictHorizon(h, X, current)
      if (again.some((v, i) => v !== before[i])) throw new RpsError(`the written model predicts differently from the trained one at +${h} h`, {code: 'MODEL_INVALID'})
    }
    if (reloaded.predict(X, current).some((v, i) => v !== holdoutPred[i])) throw new RpsError('the written model predicts differently from the trained one', {code: 'MODEL_INVALID'})
    const holdout = meta.metrics.holdout!
    progress(`holdout RMSE ${holdout.model!.rmse.toFixed(3)} (persistence ${holdout.persistence!.rmse.toFixed(3)}, seasonal ${holdout.seasonal!.rmse.toFixed(3)}), ${trainingSeconds.toFixed(1)} s`)

    const now = Date.now()
    await client.logBatch(run.run_id, {
      params: {
        ...Object.fromEntries(Object.entries(forestParams).map(([k, v]) => [`model.${k}`, String(v)])),
        'data.target': cfg.target, 'data.horizon_hours': String(cfg.horizonHours), 'data.target_mode': cfg.targetMode,
        'data.holdout_days': String(section.holdout_days), 'data.validation_days': String(section.validation_days),
        'data.train_window_days': String(section.train_window_days ?? 0), 'data.recency_half_life_days': String(section.recency_half_life_days ?? 0),
        'features.lags': cfg.lags.join(','), 'features.lag_variables': cfg.lagVariables.join(','),
        'features.rolling_windows': cfg.rollingWindows.join(','), 'features.rolling_variables': cfg.rollingVariables.join(','),
        'features.diffs': JSON.stringify(cfg.diffs), 'features.cyclic': cfg.cyclic.join(','), 'features.max_fill_hours': String(cfg.maxFillHours),
        'features.count': String(summary.features.length), 'data.rows': String(summary.rows),
        'data.train_rows': String(meta.split.trainRows), 'data.validation_rows': String(meta.split.validationRows), 'data.holdout_rows': String(meta.split.holdoutRows),
        'data.holdout_start': meta.split.holdoutStart, 'data.end': meta.split.end,
      },
      metrics: [
        ...flattenMetrics(meta.metrics, now),
        ...horizonMetrics(meta, now),
        {key: 'holdout_skill_vs_best_baseline', value: holdoutSkill, timestamp: now, step: 0},
        {key: 'training_seconds', value: trainingSeconds, timestamp: now, step: 0},
      ],
    })

    const plots = join(scratch, 'plots')
    await mkdir(plots, {recursive: true})
    const points = split.holdout.time.flatMap((t, i) => [
      {time: t + cfg.horizonHours * 3_600_000, series: 'actual', value: split.holdout.actual[i]!},
      {time: t + cfg.horizonHours * 3_600_000, series: 'model', value: holdoutPred[i]!},
      {time: t + cfg.horizonHours * 3_600_000, series: 'persistence', value: split.holdout.current[i]!},
    ])
    await writeFile(join(plots, 'forecast_vs_actual.png'), await forecastPlotPng(points, `Holdout: ${cfg.target} at t+${cfg.horizonHours} h`))
    const residuals = split.holdout.time.flatMap((_, i) => [
      {series: 'model', residual: holdoutPred[i]! - split.holdout.actual[i]!},
      {series: 'persistence', residual: split.holdout.current[i]! - split.holdout.actual[i]!},
    ])
    await writeFile(join(plots, 'residuals.png'), await residualsPlotPng(residuals, 'Holdout residuals'))
    await writeFile(join(scratch, 'metrics.json'), JSON.stringify({...meta.metrics, holdout_skill_vs_best_baseline: holdoutSkill}, null, 2) + '\n')

    // Hashed from the files uploaded: rps serve / export-model refuse a download that differs.
    const digests = await computeDigests(modelDir)
    await client.uploadDirectory(run.artifact_uri, modelDir, 'model')
    await client.uploadDirectory(run.artifact_uri, plots, 'plots')
    await client.uploadArtifact(run.artifact_uri, join(scratch, 'metrics.json'), 'metrics.json')
    const profileHtml = join(workDir(), 'reports/profile.html')
    if (existsSync(profileHtml)) await client.uploadArtifact(run.artifact_uri, profileHtml, 'reports/profile.html')
    const quality = await latestQualityReport(env)
    if (quality) await client.uploadArtifact(run.artifact_uri, quality.report, 'reports/quality.json')
    progress('artifacts uploaded')

    // Written now (an unwritable place fails before anything is registered), put in place after.
    await writeModelDir(pending, forest, meta, run.run_id, shorter)

    await client.ensureRegisteredModel(section.registered_name)
    previousChallenger = (await client.getVersionByAlias(section.registered_name, alias))?.version
    created = await client.createModelVersion(section.registered_name, `${run.artifact_uri}/model`, run.run_id, {
      data_version: version.md5, code_version: code, holdout_rmse: holdout.model!.rmse.toFixed(4), [DIGESTS_TAG]: JSON.stringify(digests),
    })
    await client.setAlias(section.registered_name, alias, created.version)
    await client.terminateRun(run.run_id, 'FINISHED')
    await replaceDir(pending, outDir)
    progress(`registered ${section.registered_name} v${created.version} @${alias}`)
    return {
      runId: run.run_id, experimentId: experiment.experiment_id, registeredModel: section.registered_name, version: created.version,
      alias, modelDir: outDir, dataVersion: version.md5, trainingSeconds, metrics: meta.metrics, holdoutSkillVsBestBaseline: holdoutSkill,
      closedStaleRuns: closed.map((c) => c.runId),
    }
  } catch (error) {
    // MLflow may be the reason: every clean-up step waits for it to answer again, within the patience.
    const deadline = Date.now() + patienceMs
    const patiently = (fn: () => Promise<unknown>) => client.whenBack(fn, Math.max(0, deadline - Date.now()), (reason, ms) => progress(`MLflow unreachable (${reason}); retrying in ${(ms / 1000).toFixed(1)} s to close run ${run.run_id}`)).catch(() => undefined)
    if (created) {
      await patiently(() => client.deleteModelVersion(section.registered_name, created!.version))
      if (previousChallenger) await patiently(() => client.setAlias(section.registered_name, alias, previousChallenger!))
    }
    await patiently(() => client.terminateRun(run.run_id, 'FAILED'))
    throw error
  } finally {
    await rm(scratch, {recursive: true, force: true})
    await rm(pending, {recursive: true, force: true})
  }
}
