import {strict as assert} from 'node:assert'
import {existsSync, readdirSync} from 'node:fs'
import {cp, readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {seededRandom} from '../../src/lib/forest/forest-core.js'
import {loadModelDir} from '../../src/lib/model/model-dir.js'
import {replayModel, writeTestModel} from '../support/model.js'
import {rps} from '../support/rps.js'
import {type ServeProcess, getJson, postJson, startServe} from '../support/serve.js'

describe('rps serve', function () {
  this.timeout(120_000)
  let fixture: Awaited<ReturnType<typeof replayModel>>
  let serve: ServeProcess
  let example: {features: Record<string, number>}
  const token = 'test-admin-token'

  before(async () => {
    fixture = await replayModel()
    serve = await startServe(['--model-dir', fixture.modelDir, '--max-instances', '200', '--body-limit', '64kb'], {RPS_ADMIN_TOKEN: token})
    example = (await getJson(`${serve.url}/model`)).example
  })
  after(async () => {
    await serve.stop()
  })

  it('when running, then health, readiness, model info, metrics and the OpenAPI document answer', async () => {
    assert.deepEqual(await getJson(`${serve.url}/health`), {status: 'ok'})
    const ready = await fetch(`${serve.url}/ready`)
    assert.equal(ready.status, 200)
    const model = await getJson(`${serve.url}/model`)
    assert.equal(model.horizonHours, 6)
    assert.equal(model.features.length, Object.keys(model.example.features).length)
    const doc = await getJson(`${serve.url}/openapi.json`)
    assert.equal(doc.openapi, '3.1.0')
    assert.deepEqual(doc.components.schemas.FeatureInstance.properties.features.required, model.features)
    const metrics = await (await fetch(`${serve.url}/metrics`)).text()
    assert.match(metrics, /rps_model_info\{name="rps-temperature",version="local",alias="local",trigger="unknown"\} 1/)
    assert.match(metrics, /process_resident_memory_bytes/)
  })

  it('when started by bin/rps, then Node runs with the server memory settings, which the environment can override', async () => {
    const settings = async (pid: number) => ({
      args: (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0'),
      arenas: (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0').find((e) => e.startsWith('MALLOC_ARENA_MAX=')),
    })
    const defaults = await settings(serve.child.pid!)
    assert.ok(defaults.args.includes('--max-semi-space-size=4'), defaults.args.join(' '))
    assert.equal(defaults.arenas, 'MALLOC_ARENA_MAX=2')
    const tuned = await startServe(['--model-dir', fixture.modelDir], {RPS_SERVE_SEMI_SPACE_MB: '16', MALLOC_ARENA_MAX: '8'})
    try {
      const own = await settings(tuned.child.pid!)
      assert.ok(own.args.includes('--max-semi-space-size=16'), own.args.join(' '))
      assert.equal(own.arenas, 'MALLOC_ARENA_MAX=8')
    } finally {
      await tuned.stop()
    }
  })

  it('when given explicit features, then it predicts, for one instance or a batch', async () => {
    const one = await postJson(`${serve.url}/predict`, {instances: [example]})
    assert.equal(one.status, 200)
    assert.ok(Number.isFinite(one.json.predictions[0].prediction))
    assert.deepEqual(one.json.predictions[0].out_of_distribution, [])
    const batch = await postJson(`${serve.url}/predict`, {instances: Array.from({length: 20}, () => example)})
    assert.equal(batch.json.predictions.length, 20)
  })

  /** 48 hourly observations from the fixture's raw replay body, ending `back` hours before its newest hour. */
  async function observationsEndingBack(back: number) {
    const raw = join(fixture.dir, 'data/raw/replay/greensboro-nc')
    const body = JSON.parse(await readFile(join(raw, readdirSync(raw).filter((n) => n.endsWith('-replay.json'))[0]!), 'utf8'))
    const hourly = body.hourly as Record<string, (number | null)[]> & {time: string[]}
    const last = hourly.time.length - 1 - back
    const observations = hourly.time.slice(last - 47, last + 1).map((t, i) => {
      const o: Record<string, unknown> = {time: `${t}:00Z`}
      for (const v of fixture.summary.features.slice(0, 8)) o[v] = hourly[v]![last - 47 + i]
      return o
    })
    return {hourly, last, observations}
  }

  it('when given recent observations, then it builds features with the training code: same prediction as the dataset row', async () => {
    const model = await loadModelDir(fixture.modelDir)
    const {hourly, last, observations} = await observationsEndingBack(48)
    const res = await postJson(`${serve.url}/predict`, {instances: [{observations}]})
    assert.equal(res.status, 200, JSON.stringify(res.json))
    const t = Date.parse(`${hourly.time[last]}:00Z`)
    assert.equal(res.json.predictions[0].target_time, new Date(t + 6 * 3_600_000).toISOString())
    const i = fixture.rows.time.indexOf(t)
    assert.ok(i >= 0)
    const expected = model.predict([fixture.rows.X[i]!], [fixture.rows.current[i]!])[0]!
    assert.equal(res.json.predictions[0].prediction, expected)
    const short = await postJson(`${serve.url}/predict`, {instances: [{observations: observations.slice(-10)}]})
    assert.equal(short.status, 400)
    assert.match(short.json.error, /need 25 to 100 consecutive hourly observations, got 10/)
  })

  it('when given observations, then the answer is the whole path: every horizon from the +h forest, timed newest + h, with calibrated bands', async () => {
    const model = await loadModelDir(fixture.modelDir)
    assert.deepEqual(model.horizons, [1, 2, 3, 4, 5, 6])
    const {hourly, last, observations} = await observationsEndingBack(48)
    const res = await postJson(`${serve.url}/predict`, {instances: [{observations}]})
    assert.equal(res.status, 200, JSON.stringify(res.json))
    const t = Date.parse(`${hourly.time[last]}:00Z`)
    const i = fixture.rows.time.indexOf(t)
    const path = res.json.predictions[0].path as {horizon: number; target_time: string; value: number; interval_80: [number, number]; interval_95: [number, number]}[]
    assert.deepEqual(path.map((p) => p.horizon), [1, 2, 3, 4, 5, 6])
    for (const p of path) {
      assert.equal(p.target_time, new Date(t + p.horizon * 3_600_000).toISOString())
      assert.equal(p.value, model.predictHorizon(p.horizon, [fixture.rows.X[i]!], [fixture.rows.current[i]!])[0])
      const w80 = model.meta.calibration!.halfWidth[String(p.horizon)]!['0.8']!
      const w95 = model.meta.calibration!.halfWidth[String(p.horizon)]!['0.95']!
      assert.deepEqual(p.interval_80, [p.value - w80, p.value + w80])
      assert.deepEqual(p.interval_95, [p.value - w95, p.value + w95])
      assert.ok(w95 >= w80 && w80 > 0, `+${p.horizon} h: 80 % ± ${w80}, 95 % ± ${w95}`)
    }
    assert.equal(path.at(-1)!.value, res.json.predictions[0].prediction, 'the longest horizon is the top-level prediction')
    const subset = await postJson(`${serve.url}/predict`, {instances: [{observations}, example], horizons: [3, 1]})
    assert.equal(subset.status, 200, JSON.stringify(subset.json))
    assert.deepEqual(subset.json.predictions[0].path.map((p: {horizon: number}) => p.horizon), [1, 3])
    assert.deepEqual(subset.json.predictions[1].path.map((p: {target_time: unknown}) => p.target_time), [null, null], 'features instances have no time')
    const info = await getJson(`${serve.url}/model`)
    assert.deepEqual([info.horizons, info.intervalLevels], [[1, 2, 3, 4, 5, 6], [0.8, 0.95]])
    const example_ = await postJson(`${serve.url}/predict`, info.exampleRequest)
    assert.equal(example_.status, 200, 'the example request /model shows is answered')
  })

  it('when rps forecast has live bands for the served version, then the answers use them; for another version, the calibrated ones', async () => {
    const model = await loadModelDir(fixture.modelDir)
    const liveFile = join(fixture.dir, 'live-errors-bands.json')
    const band = (halfWidth: number, n: number) => ({alpha: 0.2, halfWidth, coverage: 0.8, n})
    const intervals = (version: string) => ({version, gamma: 0.005, window: 336, by_horizon: {1: {'0.8': band(9.5, 30), '0.95': band(12.5, 30)}, 2: {'0.8': band(7, 3)}}})
    await writeFile(liveFile, JSON.stringify({windows: {}, intervals: intervals('local')}))
    const live = await startServe(['--model-dir', fixture.modelDir, '--live-errors-file', liveFile])
    try {
      const res = await postJson(`${live.url}/predict`, {instances: [example], horizons: [1, 2]})
      assert.equal(res.status, 200, JSON.stringify(res.json))
      const [h1, h2] = res.json.predictions[0].path
      assert.deepEqual(h1.interval_80, [h1.value - 9.5, h1.value + 9.5])
      assert.deepEqual(h1.interval_95, [h1.value - 12.5, h1.value + 12.5])
      const w2 = model.meta.calibration!.halfWidth['2']!['0.8']!
      assert.deepEqual(h2.interval_80, [h2.value - w2, h2.value + w2], 'too few live forecasts of +2 h: its calibrated band')
      assert.equal((await getJson(`${live.url}/model`)).bands.source, 'live')
    } finally {
      await live.stop()
    }
    await writeFile(liveFile, JSON.stringify({windows: {}, intervals: intervals('7')}))
    const other = await startServe(['--model-dir', fixture.modelDir, '--live-errors-file', liveFile])
    try {
      const [h1] = (await postJson(`${other.url}/predict`, {instances: [example], horizons: [1]})).json.predictions[0].path
      const w1 = model.meta.calibration!.halfWidth['1']!['0.8']!
      assert.deepEqual(h1.interval_80, [h1.value - w1, h1.value + w1], 'another version\'s live bands are not this one\'s')
      assert.equal((await getJson(`${other.url}/model`)).bands.source, 'calibrated')
    } finally {
      await other.stop()
    }
  })

  const BAD: [string, unknown, number, RegExp][] = [
    ['a horizon the model does not forecast', () => ({instances: [example], horizons: [1, 7]}), 400, /horizons: 7 is not forecast; this model forecasts 1, 2, 3, 4, 5, 6 h ahead/],
    ['horizons that are not a list of integers', () => ({instances: [example], horizons: ['1']}), 400, /horizons\/0: must be integer/],
    ['a wrong type', () => ({instances: [{features: {...example.features, temperature_2m: '12'}}]}), 400, /temperature_2m: must be number/],
    ['a missing feature', () => {
      const {temperature_2m: _, ...rest} = example.features
      return {instances: [{features: rest}]}
    }, 400, /missing temperature_2m/],
    ['an unknown feature', () => ({instances: [{features: {...example.features, colour: 3}}]}), 400, /unknown colour/],
    ['NaN', () => `{"instances":[{"features":{"temperature_2m":NaN}}]}`, 400, /not valid JSON/],
    ['Infinity via 1e999', () => JSON.stringify({instances: [example]}).replace(/"temperature_2m":[-0-9.e]+/, '"temperature_2m":1e999'), 400, /temperature_2m.*finite/],
    ['an empty batch', () => ({instances: []}), 400, /must NOT have fewer than 1 items/],
    ['an oversized batch', () => ({instances: Array.from({length: 201}, () => ({}))}), 400, /more than 200 items/],
    ['no instances field', () => ({rows: []}), 400, /missing instances/],
    ['bad JSON', () => '{"instances": [', 400, /not valid JSON/],
    ['a body over the limit', () => JSON.stringify({instances: Array.from({length: 150}, () => example)}), 413, /larger than 64kb/],
    ['an observation time that is not an hour', () => ({instances: [{observations: Array.from({length: 25}, (_, h) => ({
      time: `2026-01-02T${String(h % 24).padStart(2, '0')}:${h === 24 ? 30 : '00'}:00Z`, ...Object.fromEntries(fixture.summary.features.slice(0, 8).map((v) => [v, 1])),
    }))}]}), 400, /observations\/24\/time: must match pattern/],
  ]
  for (const [name, make, status, reason] of BAD) {
    it(`when the request has ${name}, then it answers ${status} with a reason`, async () => {
      const body = (make as () => unknown)()
      const res = await postJson(`${serve.url}/predict`, body)
      assert.equal(res.status, status, JSON.stringify(res.json))
      assert.match(res.json.error, reason)
    })
  }

  it('when the body is not JSON content, then 415', async () => {
    const res = await fetch(`${serve.url}/predict`, {method: 'POST', headers: {'content-type': 'text/plain'}, body: 'hello'})
    assert.equal(res.status, 415)
  })

  it('when fuzzed with 400 random and mutated bodies, then it never answers 5xx and keeps serving', async () => {
    const random = seededRandom(99)
    const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)]!
    const values = [null, true, 0, -1, 1e308, -1e308, 'x', '', [], {}, [1], {a: 1}, 3.5, '1e3']
    const names = [...Object.keys(example.features), 'time', 'observations', 'features', 'instances', '__proto__', 'constructor']
    const statuses = new Map<number, number>()
    for (let i = 0; i < 400; i++) {
      let body: unknown
      const kind = i % 4
      if (kind === 0) body = pick(values)
      else if (kind === 1) body = {instances: Array.from({length: 1 + Math.floor(random() * 3)}, () => ({[pick(['features', 'observations', 'x'])]: pick(values)}))}
      else if (kind === 2) body = {instances: [{features: {...example.features, [pick(names)]: pick(values)}}]}
      else body = {instances: [{observations: Array.from({length: Math.floor(random() * 30)}, (_, h) => ({time: pick([`2026-01-01T${String(h % 24).padStart(2, '0')}:00:00Z`, 'x', 5]), [pick(names)]: pick(values)}))}]}
      const res = await postJson(`${serve.url}/predict`, body)
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
      assert.ok(res.status < 500, `body ${JSON.stringify(body).slice(0, 300)} -> ${res.status} ${JSON.stringify(res.json)}`)
    }
    assert.ok((statuses.get(400) ?? 0) > 100)
    assert.equal((await fetch(`${serve.url}/health`)).status, 200)
  })

  it('when reload is called without or with a wrong token, then 401', async () => {
    assert.equal((await postJson(`${serve.url}/admin/reload`, {})).status, 401)
    assert.equal((await postJson(`${serve.url}/admin/reload`, {}, {authorization: 'Bearer nope'})).status, 401)
  })

  it('when the new model is broken, then reload is rejected and the old model keeps serving; a good one is swapped in', async () => {
    const backup = `${fixture.modelDir}.bak`
    await cp(fixture.modelDir, backup, {recursive: true})
    const before = await postJson(`${serve.url}/predict`, {instances: [example]})
    await writeFile(join(fixture.modelDir, 'forest.json'), '{"name":"RFRegression","baseModel":{"estimators":[{"broken":true}]')
    const rejected = await postJson(`${serve.url}/admin/reload`, {}, {authorization: `Bearer ${token}`})
    assert.equal(rejected.status, 422)
    assert.match(rejected.json.error, /new model rejected/)
    const still = await postJson(`${serve.url}/predict`, {instances: [example]})
    assert.equal(still.json.predictions[0].prediction, before.json.predictions[0].prediction)
    await writeTestModel(fixture.modelDir, fixture.rows, fixture.summary, fixture.params, 3, 777)
    const ok = await postJson(`${serve.url}/admin/reload`, {}, {authorization: `Bearer ${token}`})
    assert.equal(ok.status, 200)
    const after = await postJson(`${serve.url}/predict`, {instances: [example]})
    assert.notEqual(after.json.predictions[0].prediction, before.json.predictions[0].prediction)
    await cp(backup, fixture.modelDir, {recursive: true, force: true})
    assert.equal((await postJson(`${serve.url}/admin/reload`, {}, {authorization: `Bearer ${token}`})).status, 200)
  })

  it('when features are shifted out of the training range, then the OOD ratio rises and the feature is counted', async () => {
    const other = await startServe(['--model-dir', fixture.modelDir])
    try {
      for (let i = 0; i < 5; i++) await postJson(`${other.url}/predict`, {instances: [example]})
      let metrics = await (await fetch(`${other.url}/metrics`)).text()
      assert.match(metrics, /^rps_ood_ratio 0$/m)
      const shifted = {features: {...example.features, temperature_2m: 80}}
      for (let i = 0; i < 5; i++) await postJson(`${other.url}/predict`, {instances: [shifted]})
      metrics = await (await fetch(`${other.url}/metrics`)).text()
      assert.match(metrics, /^rps_ood_ratio 0\.5$/m)
      assert.match(metrics, /^rps_feature_ood_total\{feature="temperature_2m"\} 5$/m)
      assert.match(metrics, /^rps_prediction_requests_ood_total 5$/m)
      assert.match(metrics, /^rps_prediction_requests_total 10$/m)
    } finally {
      await other.stop()
    }
  })

  it('when a prediction log is set, then observation predictions are logged as the client\'s, never scored; the pipeline\'s own forecasts are, and /metrics shows their live errors', async () => {
    const log = join(fixture.dir, 'live/predictions.jsonl')
    const liveFile = join(fixture.dir, 'live/live-errors.json')
    const logging = await startServe(['--model-dir', fixture.modelDir, '--prediction-log', log, '--live-errors-file', liveFile])
    try {
      const liveLines = async () => (await (await fetch(`${logging.url}/metrics`)).text()).split('\n').filter((l) => l.startsWith('rps_live_error'))
      assert.deepEqual(await liveLines(), [], 'no live errors before the file exists')
      const {hourly, last, observations} = await observationsEndingBack(48)
      const older = await observationsEndingBack(50)
      const res = await postJson(`${logging.url}/predict`, {instances: [{observations}, {observations: older.observations}, example]})
      assert.equal(res.status, 200, JSON.stringify(res.json))
      assert.equal((await postJson(`${logging.url}/predict`, {instances: [example]})).status, 200)
      // The log is appended after the answer: wait for its lines, not only for the file (a loaded
      // runner can show the file before its content).
      const logLines = async () => (existsSync(log) ? (await readFile(log, 'utf8')).split('\n').filter(Boolean) : [])
      const deadline = Date.now() + 10_000
      while ((await logLines()).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      await new Promise((r) => setTimeout(r, 200)) // a third line, if serve wrongly logged one, shows too
      const lines = (await logLines()).map((l) => JSON.parse(l))
      assert.equal(lines.length, 2, 'one line per observation instance; feature instances have no target time')
      const t = `${hourly.time[last]}:00Z`
      assert.deepEqual({...lines[0], logged_at: undefined}, {
        issued_at: new Date(t).toISOString(), target_time: res.json.predictions[0].target_time, prediction: res.json.predictions[0].prediction,
        persistence: hourly.temperature_2m![last], model: {name: 'rps-temperature', version: 'local'}, source: 'serve', logged_at: undefined,
      })
      assert.equal(lines[1].issued_at, new Date(`${hourly.time[last - 2]}:00Z`).toISOString())

      // rps forecast (the DAG's job) joins the log with the observation history and writes the file serve
      // exposes. What clients sent is not what was observed: their lines are never scored.
      const forecast = ['forecast', '--model-dir', fixture.modelDir, '--prediction-log', log, '--live-errors-file', liveFile, '--params', fixture.params, '--json']
      const first = await rps(forecast, fixture.env)
      assert.equal(first.exitCode, 0, first.stderr)
      assert.equal(first.json.appended, true)
      assert.equal(first.json.liveErrors.predictions.client, 2)
      assert.equal(first.json.liveErrors.windows['24h'].model.n, 0)

      // The same two hours as the pipeline's own forecasts (as the DAG logs them) are scored.
      const text = await readFile(log, 'utf8')
      await writeFile(log, text.replaceAll('"source":"serve"', '"source":"forecast"'))
      const run = await rps(forecast, fixture.env)
      assert.equal(run.exitCode, 0, run.stderr)
      const errors = [0, 1].map((i) => res.json.predictions[i].prediction - hourly.temperature_2m![[last, last - 2][i]! + 6]!)
      const mae = (Math.abs(errors[0]!) + Math.abs(errors[1]!)) / 2
      assert.equal(run.json.liveErrors.windows['24h'].model.n, 2)
      assert.ok(Math.abs(run.json.liveErrors.windows['24h'].model.mae - mae) < 1e-9, `${run.json.liveErrors.windows['24h'].model.mae} vs ${mae}`)
      const metrics = await liveLines()
      const value = (name: string) => Number(metrics.find((l) => l.startsWith(name))?.split(' ')[1])
      assert.ok(Math.abs(value('rps_live_error_mae{window="24h",model="model"}') - mae) < 1e-9, metrics.join('\n'))
      const persistenceMae = (Math.abs(hourly.temperature_2m![last]! - hourly.temperature_2m![last + 6]!) + Math.abs(hourly.temperature_2m![last - 2]! - hourly.temperature_2m![last + 4]!)) / 2
      assert.ok(Math.abs(value('rps_live_error_mae{window="24h",model="persistence"}') - persistenceMae) < 1e-9, metrics.join('\n'))
      assert.equal(value('rps_live_error_samples{window="24h"}'), 2)
      assert.ok(value('rps_live_error_updated_timestamp_seconds') > Date.now() / 1000 - 120)
      // The same forecasts per horizon (by_horizon of the file): the logged records' horizon, same MAE and count.
      const horizon = Math.round((Date.parse(lines[0].target_time) - Date.parse(lines[0].issued_at)) / 3_600_000)
      const perHorizon = (await (await fetch(`${logging.url}/metrics`)).text()).split('\n').filter((l) => l.startsWith('rps_live_horizon_error'))
      const horizonValue = (name: string) => Number(perHorizon.find((l) => l.startsWith(name))?.split(' ')[1])
      assert.ok(Math.abs(horizonValue(`rps_live_horizon_error_mae{window="24h",horizon="${horizon}"}`) - mae) < 1e-9, perHorizon.join('\n'))
      assert.equal(horizonValue(`rps_live_horizon_error_samples{window="24h",horizon="${horizon}"}`), 2, perHorizon.join('\n'))
    } finally {
      await logging.stop()
    }
  })

  it('when SIGTERM arrives during a request, then the request completes and the process exits 0', async () => {
    const slow = await startServe(['--model-dir', fixture.modelDir, '--debug-delay-ms', '1500'])
    const pending = postJson(`${slow.url}/predict`, {instances: [example]})
    await new Promise((r) => setTimeout(r, 300))
    const exit = slow.stop('SIGTERM')
    const res = await pending
    assert.equal(res.status, 200)
    assert.equal(await exit, 0)
    await assert.rejects(fetch(`${slow.url}/health`))
  })

  it('when no model is usable, then it refuses to start with a clear message', async () => {
    const noDir = await rps(['serve', '--model-dir', '/nonexistent/model', '--port', '0'])
    assert.equal(noDir.exitCode, 1)
    assert.match(noDir.stderr, /cannot start: \/nonexistent\/model is not an rps model directory/)
    const noRegistry = await rps(['serve', '--port', '0'])
    assert.equal(noRegistry.exitCode, 1)
    assert.match(noRegistry.stderr, /cannot start: MLFLOW_TRACKING_URI is not set/)
  })
})
