import {strict as assert} from 'node:assert'
import {execa} from 'execa'
import {existsSync} from 'node:fs'
import {mkdtemp, readFile, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {killOnExit} from '../support/kill-on-exit.js'
import {freePort} from '../support/minio.js'
import {replayModel} from '../support/model.js'
import {ROOT} from '../support/rps.js'
import {type ServeProcess, getJson, postJson, startServe} from '../support/serve.js'

/** Real rps serve -> real Prometheus (rules) -> real Alertmanager -> real rps alerts-sink. */
describe('alert path end to end (Prometheus, Alertmanager, rps serve, rps alerts-sink)', function () {
  this.timeout(240_000)
  let serve: ServeProcess
  let sink: ServeProcess
  let monitoringEnv: Record<string, string>
  let alertsFile: string
  let prometheus: string
  let driftReport: string
  let liveErrors: string

  before(async () => {
    const fixture = await replayModel()
    const state = await mkdtemp(join(tmpdir(), 'rps-monitoring-'))
    alertsFile = join(state, 'alerts.jsonl')
    driftReport = join(state, 'drift.json')
    liveErrors = join(state, 'live-errors.json')
    // As rps forecast writes it (src/lib/live/live-errors.ts), nothing scored in the longest horizon's windows yet;
    // the 6 h 80 % band covered 0.55 of 168 forecasts over 7 days, every other band its level.
    const stats = (n: number) => ({mae: n ? 0.9 : null, rmse: n ? 1.1 : null, n})
    const horizon = (h: number) => ({windows: Object.fromEntries([['24h', 24], ['7d', 168]].map(([w, n]) => [w, {
      model: stats(n as number), persistence: stats(n as number), with_bands: n,
      coverage: {0.8: h === 6 && w === '7d' ? 0.55 : 0.8, 0.95: 0.95},
    }]))})
    await writeFile(liveErrors, JSON.stringify({
      updated_at: new Date().toISOString(), data_end: new Date().toISOString(), target: 'temperature_2m', horizon_hours: 6,
      windows: {'24h': {hours: 24, start: null, end: null, model: stats(0), persistence: stats(0)}}, by_version: {},
      by_horizon: {1: horizon(1), 6: horizon(6)},
      intervals: {version: '1', gamma: 0.005, window: 336, by_horizon: {1: {0.8: {alpha: 0.2, halfWidth: 1.2, coverage: 0.8, n: 168}}, 6: {0.8: {alpha: 0.12, halfWidth: 2.4, coverage: 0.55, n: 168}}}},
      predictions: {logged: 0, unique: 0, scored: 0, pending: 0, unobserved: 0, malformed: 0},
    }))
    serve = await startServe(['--model-dir', fixture.modelDir, '--debug-delay-ms', '700', '--drift-report', driftReport, '--live-errors-file', liveErrors])
    const sinkPort = await freePort()
    const {spawn} = await import('node:child_process')
    const child = spawn(process.execPath, [join(ROOT, 'bin/run.js'), 'alerts-sink', '--port', String(sinkPort), '--file', alertsFile], {stdio: ['ignore', 'ignore', 'pipe']})
    child.unref()
    killOnExit(child)
    await new Promise<void>((resolve) => child.stderr!.on('data', (d: Buffer) => (/listening on/.test(d.toString()) ? resolve() : undefined)))
    sink = {url: `http://127.0.0.1:${sinkPort}`, child, stderr: () => '', stop: async () => { child.kill('SIGTERM'); return 0 }}
    const promPort = await freePort()
    const amPort = await freePort()
    prometheus = `http://127.0.0.1:${promPort}`
    monitoringEnv = {
      ...process.env as Record<string, string>,
      RPS_STATE_DIR: state, RPS_PROMETHEUS_PORT: String(promPort), RPS_ALERTMANAGER_PORT: String(amPort),
      RPS_SCRAPE_TARGET: new URL(serve.url).host, RPS_ALERT_SINK_PORT: String(sinkPort),
      RPS_SCRAPE_INTERVAL: '1s', RPS_EVAL_INTERVAL: '1s', RPS_ALERT_FOR: '0s', RPS_ALERT_GROUP_WAIT: '1s', RPS_ALERT_GROUP_INTERVAL: '1s',
    }
    await execa(join(ROOT, 'scripts/monitoring.sh'), ['start'], {env: monitoringEnv})
  })

  after(async () => {
    await execa(join(ROOT, 'scripts/monitoring.sh'), ['stop'], {env: monitoringEnv, reject: false})
    await serve?.stop()
    await sink?.stop()
  })

  it('when requests are slow and out of distribution, then RpsHighLatencyP95 and RpsHighOodRatio reach the sink file', async () => {
    const example = (await getJson(`${serve.url}/model`)).example
    const shifted = {features: {...example.features, temperature_2m: 80}}
    const deadline = Date.now() + 150_000
    const seen = new Set<string>()
    while (Date.now() < deadline && !(seen.has('RpsHighLatencyP95') && seen.has('RpsHighOodRatio'))) {
      await Promise.all(Array.from({length: 4}, () => postJson(`${serve.url}/predict`, {instances: [shifted]})))
      if (existsSync(alertsFile)) {
        for (const line of (await readFile(alertsFile, 'utf8')).split('\n').filter(Boolean)) {
          const alert = JSON.parse(line) as {status: string; labels: {alertname: string}}
          if (alert.status === 'firing') seen.add(alert.labels.alertname)
        }
      }
    }
    assert.ok(seen.has('RpsHighOodRatio'), `alerts seen: ${[...seen].join(', ')}`)
    assert.ok(seen.has('RpsHighLatencyP95'), `alerts seen: ${[...seen].join(', ')}`)
    const ratio = await getJson(`${prometheus}/api/v1/query?query=rps_ood_ratio`)
    assert.equal(Number(ratio.data.result[0].value[1]), 1)
  })

  it('when an rps drift report shows a PSI spike, then the drift gauges reach Prometheus and RpsDriftSpike reaches the sink with rps_action=retrain', async () => {
    // As rps drift writes it (src/lib/drift/check.ts): window PSI per variable, the model's calibrated thresholds, the decision.
    await writeFile(driftReport, JSON.stringify({
      checkedAt: new Date().toISOString(), overall: {psi: {temperature_2m: 3.1, surface_pressure: 0.2}, mae: 1.1, errorRatio: 1.2},
      psiThresholds: {temperature_2m: 0.9, surface_pressure: 0.4}, dataDrift: true, conceptDrift: false, modelAgeHours: 200,
      decision: {retrain: true, trigger: 'data_drift', reason: 'data drift: PSI temperature_2m 3.10 > 0.90'},
    }))
    const written = Date.now()
    let spike: {labels: Record<string, string>} | undefined
    while (!spike && Date.now() < written + 60_000) {
      await new Promise((r) => setTimeout(r, 500))
      if (!existsSync(alertsFile)) continue
      spike = (await readFile(alertsFile, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as {status: string; labels: Record<string, string>})
        .find((a) => a.status === 'firing' && a.labels.alertname === 'RpsDriftSpike')
    }
    assert.ok(spike, 'RpsDriftSpike never reached the sink')
    assert.equal(spike.labels.variable, 'temperature_2m')
    assert.equal(spike.labels.rps_action, 'retrain')
    const ratio = await getJson(`${prometheus}/api/v1/query?query=${encodeURIComponent('rps_drift_psi / on (job, instance, variable) rps_drift_psi_threshold')}`)
    const byVariable = Object.fromEntries((ratio.data.result as {metric: {variable: string}; value: [number, string]}[]).map((r) => [r.metric.variable, Number(r.value[1])]))
    assert.ok(Math.abs(byVariable.temperature_2m! - 3.1 / 0.9) < 1e-9 && Math.abs(byVariable.surface_pressure! - 0.5) < 1e-9, JSON.stringify(byVariable))
    const decision = await getJson(`${prometheus}/api/v1/query?query=rps_drift_retrain`)
    assert.deepEqual(decision.data.result.map((r: {metric: {trigger: string}; value: [number, string]}) => [r.metric.trigger, r.value[1]]), [['data_drift', '1']])
  })

  it('when a live band covers well below its level, then the coverage gauges reach Prometheus and RpsIntervalUndercoverage reaches the sink for that band only', async () => {
    let alerts: {status: string; labels: Record<string, string>}[] = []
    const deadline = Date.now() + 60_000
    while (!alerts.some((a) => a.status === 'firing') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500))
      if (!existsSync(alertsFile)) continue
      alerts = (await readFile(alertsFile, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as {status: string; labels: Record<string, string>})
        .filter((a) => a.labels.alertname === 'RpsIntervalUndercoverage')
    }
    const firing = alerts.filter((a) => a.status === 'firing')
    assert.ok(firing.length > 0, 'RpsIntervalUndercoverage never reached the sink')
    assert.deepEqual([...new Set(firing.map((a) => `${a.labels.window} ${a.labels.horizon} ${a.labels.level}`))], ['7d 6 0.8'])
    assert.equal(firing[0]!.labels.rps_action, undefined)
    const shortfall = await getJson(`${prometheus}/api/v1/query?query=${encodeURIComponent('rps_live_interval_coverage_shortfall{window="7d", horizon="6", level="0.8"}')}`)
    assert.ok(Math.abs(Number(shortfall.data.result[0].value[1]) - 0.25) < 1e-9, JSON.stringify(shortfall.data))
  })

  it('when the Grafana dashboard and alert queries run against this Prometheus, then every one returns data', async () => {
    const run = await execa('python3', [join(ROOT, 'scripts/grafana_queries.py'), '--url', prometheus, '--require-data', '--allow-empty', 'rps_live_error_|rps_model_validation_mae'], {reject: false})
    const report = JSON.parse(String(run.stdout)) as {failed: number; queries: {expr: string; ok: boolean; resultCount: number}[]}
    assert.equal(run.exitCode, 0, JSON.stringify(report.queries.filter((q) => !q.ok), null, 1))
    assert.ok(report.queries.length >= 10)
  })
})
