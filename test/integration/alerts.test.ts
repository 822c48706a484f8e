import {strict as assert} from 'node:assert'
import {execa} from 'execa'
import {existsSync} from 'node:fs'
import {mkdtemp, readFile} from 'node:fs/promises'
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

  before(async () => {
    const fixture = await replayModel()
    const state = await mkdtemp(join(tmpdir(), 'rps-monitoring-'))
    alertsFile = join(state, 'alerts.jsonl')
    serve = await startServe(['--model-dir', fixture.modelDir, '--debug-delay-ms', '700'])
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

  it('when the Grafana dashboard and alert queries run against this Prometheus, then every one returns data', async () => {
    const run = await execa('python3', [join(ROOT, 'scripts/grafana_queries.py'), '--url', prometheus, '--require-data', '--allow-empty', 'rps_live_error_|rps_model_validation_mae'], {reject: false})
    const report = JSON.parse(String(run.stdout)) as {failed: number; queries: {expr: string; ok: boolean; resultCount: number}[]}
    assert.equal(run.exitCode, 0, JSON.stringify(report.queries.filter((q) => !q.ok), null, 1))
    assert.ok(report.queries.length >= 10)
  })
})
