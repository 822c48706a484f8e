import {strict as assert} from 'node:assert'
import {existsSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import pl from 'nodejs-polars'

import {MlflowClient} from '../../src/lib/mlflow/client.js'
import {toModelRows} from '../../src/lib/model/dataset.js'
import {downloadVersion} from '../../src/lib/model/registry.js'
import {trackingStack} from '../support/mlflow.js'
import {rps, scratch} from '../support/rps.js'

const H = 3_600_000

/** rps forecast against a real MLflow registry on the replay, with the replay clock moving forward. */
describe('rps forecast: prediction log and live errors (real MLflow + MinIO, replay clock)', function () {
  this.timeout(300_000)
  const name = `live-${Date.now()}`
  const T0 = Date.parse('2026-05-20T00:00:00Z')
  let dir: string
  let params: string
  let env: Record<string, string>
  let logPath: string
  let liveFile: string
  let pageFile: string

  async function ingest(at: number, extra: string[] = []) {
    const clock = {...env, RPS_REPLAY_AT: new Date(at).toISOString()}
    for (const args of [['fetch', '--source', 'replay', ...extra], ['check', '--source', 'replay'], ['featurize', '--source', 'replay']]) {
      const run = await rps([...args, '--params', params], clock)
      assert.equal(run.exitCode, 0, `${args[0]}: ${run.stderr}`)
    }
  }
  const forecast = () => rps(['forecast', '--params', params, '--json'], env)
  const logLines = async () => (await readFile(logPath, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l))
  /** The observation history as featurize wrote it: hour (ms) -> temperature. */
  async function history(): Promise<Map<number, number | null>> {
    const df = pl.readParquet(join(dir, 'data/processed/observations.parquet'))
    const time = df.getColumn('time').toArray() as number[]
    const temp = df.getColumn('temperature_2m').toArray() as (number | null)[]
    return new Map(time.map((t, i) => [t, temp[i]!]))
  }

  before(async () => {
    const stack = await trackingStack()
    ;({dir, params} = await scratch((p) => {
      p.model = {...p.model, registered_name: name, experiment: name, holdout_days: 3, validation_days: 3, n_estimators: 12, max_samples: 300, max_depth: 8}
    }))
    env = {...stack.env, RPS_DATA_DIR: join(dir, 'data'), RPS_WORKDIR: dir}
    logPath = join(dir, 'data/predictions/predictions.jsonl')
    liveFile = join(dir, 'reports/live/live-errors.json')
    pageFile = join(dir, 'reports/live/forecast.html')
    await ingest(T0, ['--past-hours', '720'])
  })

  it('when there is no champion yet, then it says so and exits 0 without logging anything or writing a page', async () => {
    const run = await rps(['forecast', '--params', params], env)
    assert.equal(run.exitCode, 0, run.stderr)
    assert.match(run.stderr, new RegExp(`no new forecast: '${name}' has no @champion yet`))
    assert.equal(existsSync(logPath), false)
    assert.equal(existsSync(liveFile), false)
    assert.equal(existsSync(pageFile), false)
  })

  it('when a champion exists, then the first forecast appends the path from the newest hour, one line per horizon with its bands; a rerun appends nothing', async () => {
    assert.equal((await rps(['train', '--params', params], env)).exitCode, 0)
    assert.equal((await rps(['promote', '--params', params], env)).exitCode, 0)
    const first = await forecast()
    assert.equal(first.exitCode, 0, first.stderr)
    assert.equal(first.json.appended, true)
    assert.deepEqual(first.json.model, {name, version: '1', alias: 'champion'})
    const hist = await history()
    const newest = Math.max(...hist.keys())
    const lines = await logLines()
    assert.deepEqual(lines.map((l) => l.horizon), [1, 2, 3, 4, 5, 6])
    for (const l of lines) {
      assert.equal(l.issued_at, new Date(newest).toISOString())
      assert.equal(l.target_time, new Date(newest + l.horizon * H).toISOString())
      assert.equal(l.persistence, hist.get(newest))
      assert.deepEqual([l.source, l.model], ['forecast', {name, version: '1'}])
      assert.ok(Number.isFinite(l.prediction))
      for (const level of ['0.8', '0.95']) assert.ok(l.bands[level][0] < l.prediction && l.prediction < l.bands[level][1], `+${l.horizon} h ${level} band around the value`)
      assert.ok(l.bands['0.95'][1] - l.bands['0.95'][0] >= l.bands['0.8'][1] - l.bands['0.8'][0])
      assert.deepEqual(l.band_source, {'0.8': 'calibration', '0.95': 'calibration'}, 'no scored forecasts yet: the calibrated bands')
    }
    assert.equal(first.json.forecast.horizon, 6, 'the forecast the command reports is the longest horizon')
    assert.equal(first.json.pageFile, pageFile)
    assert.match(await readFile(pageFile, 'utf8'), new RegExp(`Model ${name} v1 \\(@champion\\) · issued ${lines[0].issued_at.slice(0, 16).replace('T', ' ')} UTC`))
    // nothing is observed yet: the report exists with empty windows and six pending forecasts
    const report = JSON.parse(await readFile(liveFile, 'utf8'))
    assert.deepEqual(report.windows['24h'].model, {mae: null, rmse: null, n: 0})
    assert.equal(report.predictions.pending, 6)
    assert.equal(report.intervals.version, '1')
    assert.deepEqual(Object.keys(report.intervals.by_horizon), ['1', '2', '3', '4', '5', '6'])

    const again = await rps(['forecast', '--params', params], env)
    assert.equal(again.exitCode, 0, again.stderr)
    assert.match(again.stderr, /no new forecast: already logged: v1 from /)
    const againJson = await forecast()
    assert.equal(againJson.exitCode, 0, againJson.stderr)
    assert.equal(againJson.json.appended, false)
    assert.deepEqual(againJson.json.path.map((p: {horizon: number}) => p.horizon), [1, 2, 3, 4, 5, 6], 'a rerun reports the logged path')
    assert.equal(againJson.json.pageFile, pageFile, 'and rewrites its page')
    assert.equal((await logLines()).length, 6)
  })

  it('when the replay clock moves past the target hours, then live-errors.json scores the logged forecasts against the observations', async () => {
    for (const hours of [3, 6, 9]) {
      await ingest(T0 + hours * H)
      const run = await forecast()
      assert.equal(run.exitCode, 0, run.stderr)
      assert.equal(run.json.appended, true)
    }
    const all = await logLines()
    assert.equal(all.length, 4 * 6)
    const lines = all.filter((l) => l.horizon === 6)
    const hist = await history()
    const dataEnd = Math.max(...hist.keys())
    const scored = lines.filter((l) => Date.parse(l.target_time) <= dataEnd)
    assert.equal(scored.length, 2, 'the first two targets (issued 6 h and more before the newest hour) are observed')
    const actual = scored.map((l) => hist.get(Date.parse(l.target_time))!)
    const errors = scored.map((l, i) => l.prediction - actual[i]!)
    const persistence = scored.map((l, i) => l.persistence - actual[i]!)
    const mae = (e: number[]) => e.reduce((a, x) => a + Math.abs(x), 0) / e.length
    const rmse = (e: number[]) => Math.sqrt(e.reduce((a, x) => a + x * x, 0) / e.length)

    const report = JSON.parse(await readFile(liveFile, 'utf8'))
    for (const window of ['24h', '7d']) {
      const w = report.windows[window]
      assert.equal(w.model.n, 2)
      assert.ok(Math.abs(w.model.mae - mae(errors)) < 1e-9, `${window} model MAE ${w.model.mae} vs ${mae(errors)}`)
      assert.ok(Math.abs(w.model.rmse - rmse(errors)) < 1e-9)
      assert.ok(Math.abs(w.persistence.mae - mae(persistence)) < 1e-9, `${window} persistence MAE ${w.persistence.mae} vs ${mae(persistence)}`)
      assert.ok(Math.abs(w.persistence.rmse - rmse(persistence)) < 1e-9)
      assert.equal(w.end, scored[1].target_time)
    }
    assert.equal(report.data_end, new Date(dataEnd).toISOString())
    assert.equal(report.by_version['1'].model.n, 2)
    const scoredAll = all.filter((l) => Date.parse(l.target_time) <= dataEnd)
    assert.deepEqual({...report.predictions}, {logged: 24, client: 0, unique: 24, scored: scoredAll.length, pending: 24 - scoredAll.length, unobserved: 0, malformed: 0})
    // Every horizon is scored on its own: +1 h forecasts issued 3 h apart are observed sooner than +6 h ones.
    for (const h of [1, 2, 3, 4, 5, 6]) {
      const own = scoredAll.filter((l) => l.horizon === h)
      const e = own.map((l) => l.prediction - hist.get(Date.parse(l.target_time))!)
      assert.equal(report.by_horizon[String(h)].windows['7d'].model.n, own.length, `+${h} h scored`)
      if (own.length) assert.ok(Math.abs(report.by_horizon[String(h)].windows['7d'].model.rmse - rmse(e)) < 1e-9)
      const inside = own.filter((l) => hist.get(Date.parse(l.target_time))! >= l.bands['0.8'][0] && hist.get(Date.parse(l.target_time))! <= l.bands['0.8'][1]).length
      if (own.length) assert.equal(report.by_horizon[String(h)].windows['7d'].coverage['0.8'], inside / own.length)
      assert.equal(report.intervals.by_horizon[String(h)]['0.8'].n, own.length)
    }
    assert.ok(report.by_horizon['1'].windows['7d'].model.n > report.by_horizon['6'].windows['7d'].model.n)

    // The logged forecasts are the champion's predictions on featurize's own rows for those hours.
    const version = (await MlflowClient.fromEnv(env).getVersionByAlias(name, 'champion'))!
    const model = await downloadVersion(MlflowClient.fromEnv(env), version)
    const rows = toModelRows(pl.readParquet(join(dir, 'data/processed/dataset.parquet')), model.meta.features, model.meta.target)
    for (const l of scored) {
      const i = rows.time.indexOf(Date.parse(l.issued_at))
      assert.ok(i >= 0, `dataset row for ${l.issued_at}`)
      assert.equal(model.predict([rows.X[i]!], [rows.current[i]!])[0], l.prediction)
      assert.equal(rows.actual[i], hist.get(Date.parse(l.target_time)))
    }
    for (const l of scoredAll) {
      const i = rows.time.indexOf(Date.parse(l.issued_at))
      if (i >= 0) assert.equal(model.predictHorizon(l.horizon, [rows.X[i]!], [rows.current[i]!])[0], l.prediction, `+${l.horizon} h from ${l.issued_at}`)
    }
  })
})
