import {strict as assert} from 'node:assert'
import {existsSync, readdirSync} from 'node:fs'
import {mkdtemp, readFile, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import pl from 'nodejs-polars'

import {featureConfig} from '../../src/lib/features/config.js'
import {buildFeatures, trainingRows} from '../../src/lib/features/build-features.js'
import {MlflowClient} from '../../src/lib/mlflow/client.js'
import {toModelRows} from '../../src/lib/model/dataset.js'
import {loadModelDir} from '../../src/lib/model/model-dir.js'
import {trainForest, loadForest, predictForest} from '../../src/lib/forest/forest.js'
import {trackingStack} from '../support/mlflow.js'
import {rps, scratch} from '../support/rps.js'

describe('train, compare, promote (real MLflow + MinIO)', function () {
  this.timeout(300_000)
  let env: Record<string, string>
  let params: string
  let dir: string
  let client: MlflowClient
  const model = `lifecycle-${Date.now()}`

  before(async () => {
    const stack = await trackingStack()
    ;({dir, params} = await scratch((p) => {
      p.model = {...p.model, registered_name: model, experiment: model, holdout_days: 3, validation_days: 3, n_estimators: 12, max_samples: 300, max_depth: 8}
    }))
    env = {...stack.env, RPS_DATA_DIR: join(dir, 'data'), RPS_WORKDIR: dir}
    client = new MlflowClient({trackingUri: stack.trackingUri})
    for (const args of [['fetch', '--source', 'replay', '--at', '2026-05-20T00:00:00Z', '--past-hours', '720'], ['check', '--source', 'replay'], ['featurize', '--source', 'replay'], ['profile']]) {
      const run = await rps([...args, '--params', params], env)
      assert.equal(run.exitCode, 0, `${args[0]}: ${run.stderr}`)
    }
  })

  it('when there is no MLflow server configured, then train fails with a clear message', async () => {
    const run = await rps(['train', '--params', params], {RPS_DATA_DIR: env.RPS_DATA_DIR!, RPS_WORKDIR: dir})
    assert.equal(run.exitCode, 5)
    assert.match(run.stderr, /MLFLOW_TRACKING_URI is not set/)
  })

  it('when trained, then the run has params, metrics, tags and artifacts, and v1 is @challenger; the first model wins compare', async () => {
    const run = await rps(['train', '--params', params, '--json'], env)
    assert.equal(run.exitCode, 0, run.stderr)
    const r = run.json
    assert.equal(r.version, '1')
    const mlRun = await client.getRun(r.runId)
    assert.equal(mlRun.info.status, 'FINISHED')
    const metrics = Object.fromEntries((mlRun.data.metrics ?? []).map((m) => [m.key, m.value]))
    for (const key of ['validation_rmse', 'holdout_rmse', 'holdout_mae', 'holdout_r2', 'persistence_holdout_rmse', 'seasonal_holdout_rmse', 'holdout_skill_vs_best_baseline', 'training_seconds']) {
      assert.ok(Number.isFinite(metrics[key]), `metric ${key}`)
    }
    assert.ok(metrics.holdout_rmse! < metrics.persistence_holdout_rmse!, 'the model beats persistence')
    const tags = Object.fromEntries((mlRun.data.tags ?? []).map((t) => [t.key, t.value]))
    assert.equal(tags['rps.data_version'], r.dataVersion)
    assert.equal(tags['rps.horizon_hours'], '6')
    assert.equal(tags['rps.location'], 'greensboro-nc')
    assert.match(tags['mlflow.source.git.commit']!, /^[0-9a-f]{40}$/)
    const params_ = Object.fromEntries((mlRun.data.params ?? []).map((p) => [p.key, p.value]))
    assert.equal(params_['model.nEstimators'], '12')
    assert.equal(params_['features.lags'], '1,2,3,6,12,24')
    const artifacts = (await client.listArtifacts(mlRun.info.artifact_uri)).map((a) => a.path).sort()
    assert.deepEqual(artifacts, ['metrics.json', 'model', 'plots', 'reports'])
    const modelFiles = (await client.listArtifacts(mlRun.info.artifact_uri, 'model')).map((a) => a.path).sort()
    assert.deepEqual(modelFiles, ['model/MLmodel', 'model/features.json', ...[1, 2, 3, 4, 5].map((h) => `model/forest-h${h}.json`), 'model/forest.json', 'model/model.json'])
    for (const h of [1, 2, 3, 4, 5, 6]) {
      assert.ok(Number.isFinite(metrics[`holdout_rmse_h${h}`]), `metric holdout_rmse_h${h}`)
      for (const level of ['0.8', '0.95']) assert.ok(metrics[`holdout_coverage_${level}_h${h}`]! >= 0 && metrics[`holdout_coverage_${level}_h${h}`]! <= 1, `metric holdout_coverage_${level}_h${h}`)
    }
    assert.ok(metrics.holdout_rmse_h1! < metrics.holdout_rmse_h6!, 'one hour ahead is easier than six')
    assert.equal(metrics.holdout_rmse_h6, metrics.holdout_rmse, 'the longest horizon is the one the single-horizon scores use')
    const reports = (await client.listArtifacts(mlRun.info.artifact_uri, 'reports')).map((a) => a.path).sort()
    assert.deepEqual(reports, ['reports/profile.html', 'reports/quality.json'])

    // the downloaded model predicts exactly like the local one
    const dl = join(await mkdtemp(join(tmpdir(), 'rps-dl-')), 'model')
    await client.downloadDirectory(mlRun.info.artifact_uri, 'model', dl)
    const local = await loadModelDir(r.modelDir)
    const remote = await loadModelDir(dl)
    const df = pl.readParquet(join(dir, 'data/processed/dataset.parquet'))
    const rows = toModelRows(df, local.meta.features, local.meta.target)
    assert.deepEqual(remote.predict(rows.X, rows.current), local.predict(rows.X, rows.current))
    for (const h of local.horizons) assert.deepEqual(remote.predictHorizon(h, rows.X, rows.current), local.predictHorizon(h, rows.X, rows.current), `+${h} h`)
    assert.deepEqual(remote.meta.calibration, local.meta.calibration)
    assert.equal((await client.getVersionByAlias(model, 'challenger'))?.version, '1')

    const compare = await rps(['compare', '--params', params, '--out-dir', join(dir, 'cmp1'), '--json'], env)
    assert.equal(compare.exitCode, 0, compare.stderr)
    assert.equal(compare.json.decision, 'no_champion')
    assert.match(await readFile(join(dir, 'cmp1/report.md'), 'utf8'), /No champion yet/)
    const promote = await rps(['promote', '--params', params, '--json'], env)
    assert.equal(promote.json.champion, '1')
    assert.equal(promote.json.previousChampion, null)
  })

  it('when a deliberately worse challenger (1 tree, depth 1) is compared, then it loses with exit 10 and a report; both scored on identical rows', async () => {
    const run = await rps(['train', '--params', params, '--n-estimators', '1', '--max-depth', '1', '--json'], env)
    assert.equal(run.exitCode, 0, run.stderr)
    const compare = await rps(['compare', '--params', params, '--out-dir', join(dir, 'cmp2'), '--json'], env)
    assert.equal(compare.exitCode, 10, compare.stderr)
    const r = compare.json
    assert.equal(r.decision, 'challenger_loses')
    assert.equal(r.challenger.scores.n, r.champion.scores.n)
    assert.equal(r.challenger.scores.n, r.holdout.rows)
    assert.ok(r.challenger.scores.rmse > r.champion.scores.rmse)
    const report = await readFile(join(dir, 'cmp2/report.md'), 'utf8')
    assert.match(report, /Challenger v2 loses/)
    assert.match(report, /!\[forecast_vs_actual\]\(forecast_vs_actual\.png\)/)
    assert.match(report, /!\[fan_chart\]\(fan_chart\.png\)/)
    assert.match(report, /\| \+1 h \| \d+\.\d{3} \| \d+\.\d{3} \|/, 'the per-horizon table')
    assert.deepEqual(r.path.horizons, [1, 2, 3, 4, 5, 6])
    assert.match(r.path.failures[0], /^mean RMSE over \+1,2,3,4,5,6 h/)
    assert.ok(r.path.challengerMeanRmse > r.path.championMeanRmse)
    const again = await rps(['compare', '--params', params, '--out-dir', join(dir, 'cmp2'), '--lose-exit-code', '99'], env)
    assert.equal(again.exitCode, 99)
  })

  it('when the challenger lost its comparison, then promote refuses it with exit 10 and the numbers; --force needs a reason', async () => {
    const refused = await rps(['promote', '--params', params, '--compare-report', join(dir, 'cmp2/report.json'), '--json'], env)
    assert.equal(refused.exitCode, 10, refused.stdout + refused.stderr)
    assert.equal(refused.json.error.code, 'PROMOTION_REFUSED')
    assert.match(refused.json.error.message, /refusing to promote '.+' v2: rps compare decided challenger_loses: challenger v2 holdout RMSE \d+\.\d{3} vs champion v1 \d+\.\d{3} on \d+ rows \(tolerance 0\)/)
    const noReport = await rps(['promote', '--params', params], env)
    assert.equal(noReport.exitCode, 10)
    assert.match(noReport.stderr, /no comparison report at .*reports\/compare\/report\.json for challenger v2 vs champion v1/)
    const noReason = await rps(['promote', '--params', params, '--force'], env)
    assert.equal(noReason.exitCode, 2, noReason.stderr)
    assert.equal((await client.getVersionByAlias(model, 'champion'))?.version, '1', 'the champion stays')
  })

  it('when a challenger passes the comparison (within the tolerance), then promote moves champion and rollback restores it', async () => {
    const run = await rps(['train', '--params', params, '--n-estimators', '24', '--json'], env)
    assert.equal(run.json.version, '3')
    // On a 72-row holdout, which of two similar forests scores better is chance: a 1 °C tolerance makes
    // this challenger pass whichever it is (the losing path is the 1-tree challenger above).
    const compare = await rps(['compare', '--params', params, '--out-dir', join(dir, 'cmp3'), '--tolerance', '1', '--json'], env)
    assert.equal(compare.exitCode, 0, `${compare.stderr} ${JSON.stringify(compare.json)}`)
    assert.equal(compare.json.decision, 'challenger_wins')
    const promote = await rps(['promote', '--params', params, '--compare-report', join(dir, 'cmp3/report.json'), '--json'], env)
    assert.deepEqual([promote.json.action, promote.json.champion, promote.json.previousChampion], ['promoted', '3', '1'])
    assert.equal((await client.getVersionByAlias(model, 'champion'))?.version, '3')
    const rollback = await rps(['promote', '--rollback', '--params', params, '--json'], env)
    assert.deepEqual([rollback.json.action, rollback.json.champion, rollback.json.previousChampion], ['rolled_back', '1', '3'])
    assert.equal((await client.getVersionByAlias(model, 'champion'))?.version, '1')
    assert.equal((await client.getVersionByAlias(model, 'previous-champion'))?.version, '3')
    assert.equal((await client.getVersionByAlias(model, 'challenger'))?.version, '1', 'the demoted v3 is no longer @challenger: nothing is pending')
    const log = JSON.parse((await client.getRegisteredModel(model))!.tags!.find((t) => t.key === 'rps.promotion_log')!.value)
    assert.deepEqual(log.map((e: {action: string; to: string}) => `${e.action}:${e.to}`), ['promote:1', 'promote:3', 'rollback:1'])
    const exported = await rps(['export-model', '--alias', 'champion', '--out', join(dir, 'exported'), '--params', params, '--json'], env)
    assert.equal(exported.json.version, '1')
    assert.equal(exported.json.verified, true)
    assert.equal((await loadModelDir(join(dir, 'exported'))).meta.name, model)
    // train recorded every model file's sha256 on the version; the export checked them and keeps them for the image.
    const recorded = JSON.parse((await client.getModelVersion(model, '1')).tags!.find((t) => t.key === 'rps.artifact_digests')!.value)
    assert.deepEqual(Object.keys(recorded).sort(), ['MLmodel', 'features.json', ...[1, 2, 3, 4, 5].map((h) => `forest-h${h}.json`), 'forest.json', 'model.json'])
    assert.deepEqual(JSON.parse(await readFile(join(dir, 'exported/registry.json'), 'utf8')).digests, recorded)
  })

  it('when the report is about another challenger or another champion, then promote refuses; --force --reason promotes with trigger forced', async () => {
    const other = await rps(['promote', '--version', '2', '--params', params, '--compare-report', join(dir, 'cmp3/report.json')], env)
    assert.equal(other.exitCode, 10)
    assert.match(other.stderr, /cmp3\/report\.json is not a comparison of challenger v2 vs champion v1 \(its challenger is v3; it compared challenger v3 holdout RMSE/)
    const forced = await rps(['promote', '--version', '2', '--force', '--reason', 'test: override the gate', '--params', params, '--compare-report', join(dir, 'cmp2/report.json'), '--json'], env)
    assert.equal(forced.exitCode, 0, forced.stderr)
    assert.deepEqual([forced.json.action, forced.json.champion, forced.json.trigger], ['promoted', '2', 'forced'])
    assert.match(forced.json.reason, /^test: override the gate \(forced past the gate: rps compare decided challenger_loses: challenger v2 /)
    const v2 = await client.getModelVersion(model, '2')
    assert.equal(v2.tags!.find((t) => t.key === 'rps.promotion_trigger')!.value, 'forced')
    // cmp3 compared v3 with v1; the champion is now v2: a stale report
    const stale = await rps(['promote', '--version', '3', '--params', params, '--compare-report', join(dir, 'cmp3/report.json')], env)
    assert.equal(stale.exitCode, 10)
    assert.match(stale.stderr, /its champion was v1, the current one is v2/)
    const back = await rps(['promote', '--rollback', '--params', params, '--json'], env)
    assert.deepEqual([back.json.champion, back.json.previousChampion], ['1', '2'])
    assert.equal((await client.getVersionByAlias(model, 'challenger'))?.version, '1', '@challenger did not point at the demoted v2: unchanged')
  })

  it('when a registered version\'s artifact is overwritten in the store, then export-model refuses it and leaves nothing behind', async () => {
    const v3 = await client.getModelVersion(model, '3')
    const tampered = join(dir, 'tampered-forest.json')
    // Still a valid forest (v1's, one byte longer): only its digest tells it from v3's own.
    await writeFile(tampered, (await readFile(join(dir, 'exported/forest.json'), 'utf8')) + '\n')
    await client.uploadArtifact(v3.source, tampered, 'forest.json')
    const out = join(dir, 'exported-v3')
    const refused = await rps(['export-model', '--version', '3', '--out', out, '--params', params], env)
    assert.equal(refused.exitCode, 1, refused.stderr)
    assert.match(refused.stderr, /does not match its recorded digests: forest\.json has sha256 [0-9a-f]{12}…, [0-9a-f]{12}… was recorded/)
    assert.doesNotMatch(refused.stderr, /mlflow-artifacts:|s3:\/\//, 'no internal artifact URI in the message')
    assert.equal(existsSync(out), false)
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('.exported-v3')), [], 'no staging directory left')
  })

  it('when training fails after the run started, then the run is FAILED and no version is added', async () => {
    const before = await client.getVersionByAlias(model, 'challenger')
    // the local copy of the model directory cannot be written under a file
    const run = await rps(['train', '--params', params, '--out', '/dev/null/model', '--json'], env)
    assert.notEqual(run.exitCode, 0)
    const exp = await client.getOrCreateExperiment(model)
    assert.ok(exp)
    assert.equal((await client.getVersionByAlias(model, 'challenger'))?.version, before?.version, 'challenger unchanged')
    await assert.rejects(client.getModelVersion(model, '4'), /RESOURCE_DOES_NOT_EXIST/, 'versions 1-3 only')
  })
})

describe('forest training', () => {
  it('when trained with 1 or 2 workers, then the model is identical (per-tree seeds)', async function () {
    this.timeout(120_000)
    const {params} = await scratch()
    const {loadParams} = await import('../../src/lib/config/params.js')
    const cfg = featureConfig(loadParams(params))
    const n = 400
    const time = Array.from({length: n}, (_, i) => Date.UTC(2026, 0, 1) + i * 3_600_000)
    const columns = Object.fromEntries(cfg.variables.map((v, k) => [v, time.map((_, i) => Math.sin(i / (5 + k)) * 10 + k)]))
    const rows = toModelRows(trainingRows(buildFeatures({time, collectedAt: time.map(() => 'x'), columns}, cfg)), (await import('../../src/lib/features/build-features.js')).featureNames(cfg), cfg.target)
    const p = {nEstimators: 6, maxDepth: 5, minSamplesLeaf: 3, maxFeatures: 0.6, maxSamples: 100, seed: 7}
    const one = await trainForest(rows.X, rows.y, {...p, workers: 1})
    const two = await trainForest(rows.X, rows.y, {...p, workers: 2})
    assert.deepEqual(predictForest(loadForest(one), rows.X), predictForest(loadForest(two), rows.X))
  })
})
