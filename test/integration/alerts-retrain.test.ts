import {strict as assert} from 'node:assert'
import {type ChildProcess, spawn} from 'node:child_process'
import {execa} from 'execa'
import {existsSync} from 'node:fs'
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {killOnExit} from '../support/kill-on-exit.js'
import {freePort} from '../support/minio.js'
import {ROOT} from '../support/rps.js'
import {postJson} from '../support/serve.js'

interface Sink {
  url: string
  child: ChildProcess
  stderr: () => string
  stop(): Promise<void>
}

/** The real `rps alerts-sink` CLI on a free port. */
async function startSink(args: string[], env: Record<string, string>): Promise<Sink> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/run.js'), 'alerts-sink', '--port', '0', ...args], {env, stdio: ['ignore', 'ignore', 'pipe']})
  killOnExit(child, 'SIGKILL')
  let err = ''
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`rps alerts-sink did not start: ${err}`)), 60_000)
    child.stderr!.on('data', () => {
      // The line after "listening on" says what retrain alerts do: wait for both.
      const m = /listening on (http:\/\/\S+),[^\n]*\n[^\n]*(retrain alerts trigger|no Airflow configured)/.exec(err)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    })
    child.once('exit', (code) => reject(new Error(`rps alerts-sink exited with ${code}: ${err}`)))
  })
  return {
    url, child, stderr: () => err,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGTERM')
    }),
  }
}

/** This process's environment without anything that would point the test at a developer's services. */
function cleanEnv(): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(AIRFLOW|RPS_|MLFLOW_|AWS_|_RPS_)/.test(k)) out[k] = v
  }
  return out
}

const drift = (alertname = 'RpsConceptDrift') => ({
  status: 'firing', labels: {alertname, severity: 'warning', rps_action: 'retrain', job: 'rps', instance: '127.0.0.1:8000'},
  annotations: {summary: 'Live MAE (24h) is 2.25x the validation MAE'}, startsAt: '2026-11-27T10:00:00Z', fingerprint: `fp-${alertname}`,
})
/** The bearer token the sink requires and Alertmanager sends (scripts/monitoring.sh: credentials_file). */
const SINK_TOKEN = 'alerts-retrain-test-token-0123456789'
const webhook = (...alerts: unknown[]) => ({receiver: 'rps-alerts-sink', status: 'firing', version: '4', alerts})

/** A stand-in for rps serve's /metrics (monitoring/testing/fake_exporter.py) on a free port. */
async function startExporter(dir: string, args: string[]): Promise<{target: string; stop: () => void}> {
  const portFile = join(dir, 'exporter.port')
  const child = spawn('python3', [join(ROOT, 'monitoring/testing/fake_exporter.py'), '--port', '0', '--port-file', portFile, ...args], {stdio: 'ignore'})
  killOnExit(child, 'SIGKILL')
  const deadline = Date.now() + 30_000
  while (!existsSync(portFile) || !(await readFile(portFile, 'utf8')).trim()) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`fake exporter did not start (exit ${child.exitCode})`)
    await new Promise((r) => setTimeout(r, 100))
  }
  return {target: `127.0.0.1:${(await readFile(portFile, 'utf8')).trim()}`, stop: () => child.kill('SIGTERM')}
}

/**
 * Prometheus (the generated rules) -> Alertmanager (monitoring/alertmanager.yml) -> real rps
 * alerts-sink -> real Airflow 3.3 (scripts/airflow.sh: api-server, scheduler, dag-processor,
 * SQLite, a free port, a temporary AIRFLOW_HOME); then the sink's dedupe with webhook bodies posted
 * directly. rps_pipeline stays paused (new DAGs are), so the triggered run waits `queued` and nothing
 * runs the pipeline. The cases share the sink's files and Airflow and run in order.
 */
describe('alert -> retraining DAG run (real Airflow 3 REST API, real rps alerts-sink)', function () {
  this.timeout(300_000)
  let airflowEnv: Record<string, string>
  let airflowUrl: string
  let dir: string
  let alertsFile: string
  let sinkEnv: Record<string, string>
  const sinks: Sink[] = []
  let sink: Sink

  async function airflow(path: string): Promise<any> {
    const token = ((await (await fetch(`${airflowUrl}/auth/token`)).json()) as {access_token: string}).access_token
    const res = await fetch(`${airflowUrl}/api/v2${path}`, {headers: {Authorization: `Bearer ${token}`}})
    assert.equal(res.status, 200, `GET ${path}: ${res.status} ${await res.clone().text()}`)
    return res.json()
  }

  const runs = async () => (await airflow('/dags/rps_pipeline/dagRuns?limit=100')).dag_runs as any[]
  const lines = async () => (await readFile(alertsFile, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l))
  /** Posts a webhook body; returns the answer and the JSON lines it added. */
  async function post(...alerts: unknown[]) {
    const before = existsSync(alertsFile) ? (await lines()).length : 0
    const res = await postJson(`${sink.url}/alerts`, webhook(...alerts), {authorization: `Bearer ${SINK_TOKEN}`})
    return {...res, added: (await lines()).slice(before)}
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rps-alert-retrain-'))
    alertsFile = join(dir, 'sink', 'alerts.jsonl')
    const port = await freePort()
    airflowUrl = `http://127.0.0.1:${port}`
    airflowEnv = {...cleanEnv(), RPS_ENV_FILE: '/dev/null', RPS_STATE_DIR: join(dir, 'state'), RPS_AIRFLOW_PORT: String(port)}
    await execa(join(ROOT, 'scripts/airflow.sh'), ['start'], {env: airflowEnv, extendEnv: false, timeout: 280_000})
    // The DAG processor parses the folder right after start; wait until the DAG is in the DB.
    const deadline = Date.now() + 120_000
    for (;;) {
      const token = ((await (await fetch(`${airflowUrl}/auth/token`)).json()) as {access_token: string}).access_token
      if ((await fetch(`${airflowUrl}/api/v2/dags/rps_pipeline`, {headers: {Authorization: `Bearer ${token}`}})).status === 200) break
      if (Date.now() > deadline) throw new Error('rps_pipeline was not parsed within 120 s')
      await new Promise((r) => setTimeout(r, 500))
    }
    sinkEnv = {...cleanEnv(), RPS_AIRFLOW_URL: airflowUrl, RPS_ALERT_SINK_TOKEN: SINK_TOKEN, CI: 'true', NO_COLOR: '1'}
    sink = await startSink(['--file', alertsFile], sinkEnv)
    sinks.push(sink)
  })

  after(async () => {
    exporter?.stop()
    if (monitoringEnv) await execa(join(ROOT, 'scripts/monitoring.sh'), ['stop'], {env: monitoringEnv, extendEnv: false, reject: false})
    for (const s of sinks) await s.stop()
    if (airflowEnv) await execa(join(ROOT, 'scripts/airflow.sh'), ['stop'], {env: airflowEnv, extendEnv: false, reject: false, timeout: 120_000})
    if (dir) await rm(dir, {recursive: true, force: true})
  })

  let exporter: {target: string; stop: () => void} | undefined
  let monitoringEnv: Record<string, string> | undefined

  it('when Prometheus fires RpsConceptDrift, then Alertmanager delivers it to the sink and exactly one run of rps_pipeline appears, with the conf and a real data interval', async () => {
    assert.match(sink.stderr(), new RegExp(`retrain alerts trigger rps_pipeline on ${airflowUrl} \\(cooldown 86400 s`))
    // Live MAE 1.2 / validation MAE 0.7 = 1.71 > 1.5, 24 scored forecasts; model 1.2 > persistence 1.0 too.
    exporter = await startExporter(dir, ['--ood-ratio', '0', '--latency', '0.002', '--live-mae', '1.2', '--validation-mae', '0.7', '--persistence-mae', '1.0'])
    monitoringEnv = {
      ...cleanEnv(), RPS_ENV_FILE: '/dev/null', RPS_STATE_DIR: join(dir, 'monitoring'),
      RPS_PROMETHEUS_PORT: String(await freePort()), RPS_ALERTMANAGER_PORT: String(await freePort()),
      RPS_SCRAPE_TARGET: exporter.target, RPS_ALERT_SINK_PORT: new URL(sink.url).port, RPS_ALERT_SINK_TOKEN: SINK_TOKEN,
      RPS_SCRAPE_INTERVAL: '1s', RPS_EVAL_INTERVAL: '1s', RPS_ALERT_FOR: '0s', RPS_ALERT_GROUP_WAIT: '1s', RPS_ALERT_GROUP_INTERVAL: '1s',
    }
    await execa(join(ROOT, 'scripts/monitoring.sh'), ['start'], {env: monitoringEnv, extendEnv: false})
    const deadline = Date.now() + 90_000
    let all: any[] = []
    while (Date.now() < deadline) {
      const got = existsSync(alertsFile) ? (await lines()).map((l) => l.labels.alertname) : []
      all = await runs()
      if (all.length > 0 && got.includes('RpsModelWorseThanPersistence')) break
      await new Promise((r) => setTimeout(r, 500))
    }
    await execa(join(ROOT, 'scripts/monitoring.sh'), ['stop'], {env: monitoringEnv, extendEnv: false})
    exporter.stop()
    assert.equal(all.length, 1, JSON.stringify(all))
    const run = all[0]
    assert.deepEqual(run.conf, {retrain: 'always', triggered_by: 'alert:RpsConceptDrift'})
    assert.equal(run.run_type, 'manual')
    assert.equal(run.state, 'queued', 'the DAG is paused, so the run waits')
    assert.ok(run.logical_date && run.data_interval_start && run.data_interval_end, `templated tasks need a data interval: ${JSON.stringify(run)}`)
    assert.match(run.note, /^Triggered by the alert RpsConceptDrift \(fingerprint [0-9a-f]+\) through rps alerts-sink\.$/)
    const received = await lines()
    const driftLine = received.find((l) => l.labels.alertname === 'RpsConceptDrift')
    assert.equal(driftLine.receiver, 'rps-alerts-sink')
    assert.deepEqual([driftLine.labels.rps_action, driftLine.retrain.action, driftLine.retrain.runId, driftLine.retrain.dagPaused], ['retrain', 'triggered', run.dag_run_id, true])
    const worse = received.find((l) => l.labels.alertname === 'RpsModelWorseThanPersistence')
    assert.equal('retrain' in worse, false, 'an alert without rps_action triggers nothing')
    assert.match(sink.stderr(), new RegExp(`retrain: triggered rps_pipeline run ${run.dag_run_id} for RpsConceptDrift .*rps_pipeline is paused`))
  })

  it('when the same alert comes again with a second retrain alert in the same batch, then no second run, and both lines and the log say why', async () => {
    const res = await post(drift(), drift('RpsConceptDriftGrafana'))
    assert.equal(res.status, 200)
    assert.deepEqual(res.json.retrain.map((d: any) => [d.action, d.reason]), [['skipped', 'cooldown'], ['skipped', 'cooldown']])
    assert.equal((await runs()).length, 1)
    assert.deepEqual(res.added.map((l) => [l.labels.alertname, l.retrain.reason]), [['RpsConceptDrift', 'cooldown'], ['RpsConceptDriftGrafana', 'cooldown']])
    assert.match(res.added[0].retrain.detail, /^run rps_alert__RpsConceptDrift__\S+ was triggered at \S+ by RpsConceptDrift; no new run before /)
    assert.match(sink.stderr(), /retrain: skipped for RpsConceptDriftGrafana: cooldown: run rps_alert__RpsConceptDrift__/)
  })

  it('when an alert without rps_action arrives, then no run and no retrain decision', async () => {
    const ood = {status: 'firing', labels: {alertname: 'RpsHighOodRatio', severity: 'warning'}, fingerprint: 'fp-ood'}
    const res = await post(ood, {...drift(), status: 'resolved'})
    assert.deepEqual([res.status, res.json], [200, {received: 2}])
    assert.equal((await runs()).length, 1)
    assert.deepEqual(res.added.map((l) => 'retrain' in l), [false, false])
  })

  it('when a retrain alert comes without the bearer token or with a wrong one, then 401, no line and no run', async () => {
    const before = (await lines()).length
    for (const headers of [{}, {authorization: 'Bearer forged-token-0123456789abcdef'}] as Record<string, string>[]) {
      const res = await postJson(`${sink.url}/alerts`, webhook(drift('RpsForged')), headers)
      assert.equal(res.status, 401)
    }
    assert.equal((await lines()).length, before)
    assert.equal((await runs()).length, 1)
  })

  it('when the sink restarts on the same file, then the saved cooldown still holds', async () => {
    await sink.stop()
    sink = await startSink(['--file', alertsFile], sinkEnv)
    sinks.push(sink)
    const res = await post(drift())
    assert.equal(res.json.retrain[0].reason, 'cooldown')
    assert.equal((await runs()).length, 1)
  })

  it('when the cooldown is over but the triggered run is still queued, then Airflow\'s active run skips it', async () => {
    await sink.stop()
    sink = await startSink(['--file', alertsFile, '--retrain-cooldown', '0'], sinkEnv)
    sinks.push(sink)
    const [run] = await runs()
    const res = await post(drift())
    assert.equal(res.status, 200)
    assert.deepEqual([res.json.retrain[0].action, res.json.retrain[0].reason, res.json.retrain[0].detail], ['skipped', 'active_run', `run ${run.dag_run_id} of rps_pipeline is queued`])
    assert.equal((await runs()).length, 1)
  })

  it('when Airflow is down, then the sink logs it clearly and answers 503 so Alertmanager retries', async () => {
    await execa(join(ROOT, 'scripts/airflow.sh'), ['stop'], {env: airflowEnv, extendEnv: false, timeout: 120_000})
    const res = await post(drift())
    assert.equal(res.status, 503, JSON.stringify(res.json))
    assert.match(res.json.error, /could not be triggered, retry later: Airflow at http:\/\/127\.0\.0\.1:\d+ unreachable/)
    assert.match(sink.stderr(), new RegExp(`retrain: FAILED for RpsConceptDrift: Airflow at ${airflowUrl} unreachable \\(get a token\\): ECONNREFUSED .*answering 503 so Alertmanager retries`))
    assert.deepEqual(res.added.map((l) => [l.retrain.action, l.retrain.transient]), [['failed', true]])
  })
})
