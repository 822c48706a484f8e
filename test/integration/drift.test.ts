import {strict as assert} from 'node:assert'
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {MlflowClient} from '../../src/lib/mlflow/client.js'
import {trackingStack} from '../support/mlflow.js'
import {rps, scratch} from '../support/rps.js'

/** Injected drift in the replay -> rps drift detects it (exit 20); the same period without it does not. */
describe('rps drift on the replay with an injected step change', function () {
  this.timeout(300_000)

  async function pipeline(env: Record<string, string>, params: string, at: string, hours: number) {
    for (const args of [['fetch', '--source', 'replay', '--at', at, '--past-hours', String(hours)], ['check', '--source', 'replay'], ['featurize', '--source', 'replay']]) {
      const run = await rps([...args, '--params', params], env)
      assert.equal(run.exitCode, 0, `${args[0]}: ${run.stderr}`)
    }
  }

  async function trainedModel(name: string) {
    const stack = await trackingStack()
    const {dir, params} = await scratch((p) => {
      p.model = {...p.model, registered_name: name, experiment: name, holdout_days: 3, validation_days: 3, n_estimators: 16, max_samples: 400}
    })
    const env = {...stack.env, RPS_DATA_DIR: join(dir, 'data'), RPS_WORKDIR: dir}
    await pipeline(env, params, '2026-05-20T00:00:00Z', 900)
    const train = await rps(['train', '--params', params, '--out', join(dir, 'model'), '--json'], env)
    assert.equal(train.exitCode, 0, train.stderr)
    return {dir, params, env, name, stack}
  }

  it('when the next ten days are replayed unchanged vs with +4 °C from a date, then only the shifted run shows temperature drift', async () => {
    const control = await trainedModel(`drift-control-${Date.now()}`)
    await pipeline(control.env, control.params, '2026-05-30T00:00:00Z', 240)
    const a = await rps(['drift', '--model-dir', join(control.dir, 'model'), '--params', control.params, '--json'], control.env)
    assert.equal(a.exitCode, a.json.decision.retrain ? 20 : a.json.dataDrift ? 21 : 0, a.stderr)
    assert.ok(a.json.mlflowRunId)
    const shifted = await trainedModel(`drift-shift-${Date.now()}`)
    await pipeline({...shifted.env, RPS_REPLAY_SHIFT: 'temperature_2m:+4@2026-05-24T00:00:00Z'}, shifted.params, '2026-05-30T00:00:00Z', 240)
    const b = await rps(['drift', '--model-dir', join(shifted.dir, 'model'), '--params', shifted.params, '--json'], shifted.env)
    assert.ok([20, 21].includes(b.exitCode), b.stderr)
    assert.equal(b.json.dataDrift, true)
    assert.ok(b.json.overall.psi.temperature_2m > a.json.overall.psi.temperature_2m + 0.5, `PSI ${b.json.overall.psi.temperature_2m} vs ${a.json.overall.psi.temperature_2m}`)
    for (const v of ['relative_humidity_2m', 'surface_pressure', 'cloud_cover']) assert.equal(b.json.overall.psi[v], a.json.overall.psi[v], `${v} is untouched`)
  })

  it('when temperature swings grow (values x1.8 from a date) and forecasts degrade in k of the last n chunks, then a retrain is due (exit 20)', async () => {
    const {dir, params, env} = await trainedModel(`drift-concept-${Date.now()}`)
    await pipeline({...env, RPS_REPLAY_SHIFT: 'temperature_2m:*1.8@2026-05-26T00:00:00Z'}, params, '2026-05-30T00:00:00Z', 240)
    const run = await rps(['drift', '--model-dir', join(dir, 'model'), '--params', params, '--json'], env)
    assert.equal(run.exitCode, 20, JSON.stringify(run.json?.chunks?.map((c: {start: string; errorRatio: number}) => [c.start, c.errorRatio])))
    assert.equal(run.json.decision.retrain, true)
    const flagged = run.json.chunks.filter((c: {flagged: boolean}) => c.flagged)
    assert.ok(flagged.length >= 2)
    assert.ok(flagged.every((c: {end: string}) => c.end > '2026-05-26'), 'only chunks reaching past the step are flagged')
  })

  it('when there is no champion, then the gate lets the first model through (first_model) and promote records it; a young champion is not retrained (99) unless forced', async () => {
    const {dir, params, env, name, stack} = await trainedModel(`drift-gate-${Date.now()}`)
    const driftJson = join(dir, 'reports/drift/drift.json')
    const first = await rps(['drift', '--gate', '--triggered-by', 'schedule', '--params', params, '--json'], env)
    assert.equal(first.exitCode, 0, first.stderr)
    assert.deepEqual(first.json.decision, {retrain: true, trigger: 'first_model', reason: 'no champion yet'})
    assert.equal(JSON.parse(await readFile(driftJson, 'utf8')).triggeredBy, 'schedule')
    assert.equal((await rps(['compare', '--params', params], env)).exitCode, 0)
    const promoted = await rps(['promote', '--reason-file', driftJson, '--params', params, '--json'], env)
    assert.equal(promoted.exitCode, 0, promoted.stderr)
    assert.equal(promoted.json.trigger, 'first_model')
    assert.match(promoted.json.reason, /^no champion yet; challenger v1 holdout RMSE \d+\.\d{3} on 72 rows, no champion to beat$/)
    const tags = Object.fromEntries(((await new MlflowClient({trackingUri: stack.trackingUri}).getModelVersion(name, '1')).tags ?? []).map((t) => [t.key, t.value]))
    assert.equal(tags['rps.promotion_trigger'], 'first_model')
    assert.equal(tags['rps.promotion_reason'], promoted.json.reason)

    const quiet = await rps(['drift', '--gate', '--params', params, '--json'], env)
    assert.equal(quiet.exitCode, 99, quiet.stderr)
    assert.equal(quiet.json.decision.retrain, false)
    assert.equal(quiet.json.decision.trigger, null)
    assert.deepEqual(quiet.json.champion, {name, version: '1'})
    const forced = await rps(['drift', '--gate', '--force', '--triggered-by', 'alert:RpsLiveErrorHigh', '--params', params, '--json'], env)
    assert.equal(forced.exitCode, 0, forced.stderr)
    assert.equal(forced.json.decision.trigger, 'alert')
    assert.ok(forced.json.decision.reason.startsWith(`alert RpsLiveErrorHigh asked for a retrain; drift check: no retrain due (${quiet.json.decision.reason})`), forced.json.decision.reason)
  })
})
