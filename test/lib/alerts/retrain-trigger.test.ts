import {strict as assert} from 'node:assert'
import {mkdtemp, readFile, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {type AirflowApi, AirflowError, type DagRun, type TriggerRequest} from '../../../src/lib/alerts/airflow-client.js'
import {
  RetrainTrigger, activeRunSkip, cooldownSkip, retrainHook, retrainRunId, retrainStatePath, wantsRetrain,
  type RetrainDecision, type RetrainState,
} from '../../../src/lib/alerts/retrain-trigger.js'
import type {WebhookAlert} from '../../../src/lib/alerts/webhook-alert.js'

const HOUR = 3_600_000
const T0 = new Date('2026-11-27T10:00:00.000Z')

function drift(alertname = 'RpsConceptDrift', extra: Record<string, string> = {}): WebhookAlert {
  return {status: 'firing', labels: {alertname, severity: 'warning', rps_action: 'retrain', ...extra}, fingerprint: `fp-${alertname}`}
}

/** An in-memory Airflow: runs it was asked to create stay `queued` until the test finishes them. */
class MemoryAirflow implements AirflowApi {
  readonly url = 'http://airflow.test'
  runs: DagRun[] = []
  triggers: TriggerRequest[] = []
  calls = 0
  paused = true
  failWith: AirflowError | undefined

  async dag(dagId: string) {
    await this.roundTrip()
    if (this.failWith) throw this.failWith
    return {dag_id: dagId, is_paused: this.paused}
  }

  async activeRuns(dagId: string) {
    await this.roundTrip()
    return this.runs.filter((r) => r.dag_id === dagId && (r.state === 'queued' || r.state === 'running'))
  }

  async trigger(dagId: string, request: TriggerRequest) {
    await this.roundTrip()
    this.triggers.push(request)
    const run: DagRun = {
      dag_run_id: request.runId, dag_id: dagId, state: 'queued', logical_date: request.logicalDate.toISOString(),
      data_interval_start: null, data_interval_end: null, conf: request.conf,
    }
    this.runs.push(run)
    return run
  }

  /** Every call takes a little real time, as over HTTP, so concurrent decisions could interleave. */
  private async roundTrip() {
    this.calls++
    await new Promise((r) => setTimeout(r, 5))
  }

  finishAll() {
    for (const r of this.runs) r.state = 'success'
  }
}

async function setup(cooldownHours = 6) {
  const dir = await mkdtemp(join(tmpdir(), 'rps-retrain-'))
  const airflow = new MemoryAirflow()
  const clock = {now: T0}
  const lines: string[] = []
  const make = () => new RetrainTrigger({
    airflow, stateFile: retrainStatePath(join(dir, 'alerts.jsonl')), cooldownMs: cooldownHours * HOUR,
    log: (l) => lines.push(l), now: () => clock.now,
  })
  return {dir, airflow, clock, lines, make, trigger: make()}
}

describe('retrain trigger: dedupe decisions', () => {
  it('when an alert is firing with rps_action=retrain, then it asks for retraining; resolved or unlabelled ones do not', () => {
    assert.equal(wantsRetrain(drift()), true)
    assert.equal(wantsRetrain({...drift(), status: 'resolved'}), false)
    assert.equal(wantsRetrain({status: 'firing', labels: {alertname: 'RpsHighOodRatio'}}), false)
    assert.equal(wantsRetrain({status: 'firing', labels: {alertname: 'X', rps_action: 'page'}}), false)
  })

  it('when the last run was triggered less than the cooldown ago, then the cooldown skips; at its end it no longer does', () => {
    const state: RetrainState = {version: 1, dagId: 'rps_pipeline', lastTriggered: {at: T0.toISOString(), runId: 'r1', alertname: 'RpsConceptDrift'}}
    assert.equal(cooldownSkip(undefined, T0, 6 * HOUR), undefined)
    assert.match(cooldownSkip(state, new Date(T0.getTime() + 6 * HOUR - 1), 6 * HOUR)!, /run r1 was triggered at 2026-11-27T10:00:00.000Z by RpsConceptDrift; no new run before 2026-11-27T16:00:00.000Z/)
    assert.equal(cooldownSkip(state, new Date(T0.getTime() + 6 * HOUR), 6 * HOUR), undefined)
    assert.equal(cooldownSkip(state, T0, 0), undefined, 'cooldown 0 = off')
  })

  it('when a run is queued or running, then it skips; finished runs do not count', () => {
    const run = (state: string): DagRun => ({dag_run_id: `r-${state}`, dag_id: 'rps_pipeline', state, logical_date: null, data_interval_start: null, data_interval_end: null})
    assert.equal(activeRunSkip([]), undefined)
    assert.equal(activeRunSkip([run('success'), run('failed')]), undefined)
    assert.equal(activeRunSkip([run('queued')]), 'run r-queued of rps_pipeline is queued')
    assert.equal(activeRunSkip([run('running'), run('queued')]), 'run r-running of rps_pipeline is running (+1 more)')
  })

  it('when a run id is made from any alert name, then it fits Airflow\'s allowed_run_id_pattern and the state file sits beside the alerts file', () => {
    const allowed = /^[A-Za-z0-9_.~:+-]+$/ // [scheduler] allowed_run_id_pattern, Airflow 3.3 default
    assert.equal(retrainRunId('RpsConceptDrift', T0), 'rps_alert__RpsConceptDrift__20261127T100000.000Z')
    assert.match(retrainRunId('Grafana: drift / über {x}', T0), allowed)
    assert.equal(retrainStatePath('/s/alerts.jsonl'), '/s/alerts.retrain-state.json')
    assert.equal(retrainStatePath('/s/alerts'), '/s/alerts.retrain-state.json')
  })

  it('when the first retrain alert arrives, then one run is triggered with the conf, and the state file records it', async () => {
    const {airflow, trigger, lines, dir} = await setup()
    const decision = await trigger.handle(drift())
    assert.equal(decision?.action, 'triggered')
    assert.equal(airflow.triggers.length, 1)
    assert.deepEqual(airflow.triggers[0]!.conf, {retrain: 'always', triggered_by: 'alert:RpsConceptDrift'})
    assert.equal(airflow.triggers[0]!.logicalDate.toISOString(), T0.toISOString(), 'an explicit logical date, never null')
    const state = JSON.parse(await readFile(join(dir, 'alerts.retrain-state.json'), 'utf8')) as RetrainState
    assert.deepEqual(state, {version: 1, dagId: 'rps_pipeline', lastTriggered: {at: T0.toISOString(), runId: airflow.triggers[0]!.runId, alertname: 'RpsConceptDrift', fingerprint: 'fp-RpsConceptDrift'}})
    assert.ok(lines.some((l) => /retrain: triggered rps_pipeline run rps_alert__RpsConceptDrift__.* is paused: the run stays queued/.test(l)), lines.join('\n'))
  })

  it('when the same alert comes again within the cooldown, then nothing is triggered and Airflow is not even asked', async () => {
    const {airflow, trigger, clock} = await setup()
    await trigger.handle(drift())
    const calls = airflow.calls
    clock.now = new Date(T0.getTime() + 4 * HOUR) // Alertmanager's repeat_interval re-send
    const again = await trigger.handle(drift())
    assert.equal(again?.action, 'skipped')
    assert.equal((again as Extract<RetrainDecision, {action: 'skipped'}>).reason, 'cooldown')
    assert.equal(airflow.triggers.length, 1)
    assert.equal(airflow.calls, calls)
  })

  it('when several retrain alerts arrive at once (one batch or concurrent requests), then exactly one run is triggered', async () => {
    const {airflow, trigger} = await setup()
    const decisions = await Promise.all([trigger.handle(drift('A')), trigger.handle(drift('B')), trigger.handle(drift('A'))])
    assert.deepEqual(decisions.map((d) => d?.action), ['triggered', 'skipped', 'skipped'])
    assert.equal(airflow.triggers.length, 1)
  })

  it('when the sink restarts, then the state file keeps the cooldown', async () => {
    const {airflow, trigger, make} = await setup()
    await trigger.handle(drift())
    const restarted = make()
    const decision = await restarted.handle(drift())
    assert.equal(decision?.action, 'skipped')
    assert.equal(airflow.triggers.length, 1)
  })

  it('when the cooldown has passed but the triggered run still waits, then the active run skips; once it ended, a new run is triggered', async () => {
    const {airflow, trigger, clock} = await setup()
    await trigger.handle(drift())
    clock.now = new Date(T0.getTime() + 7 * HOUR)
    const waiting = await trigger.handle(drift())
    assert.deepEqual([waiting?.action, (waiting as {reason?: string}).reason], ['skipped', 'active_run'])
    assert.equal(airflow.triggers.length, 1)
    airflow.finishAll()
    const again = await trigger.handle(drift())
    assert.equal(again?.action, 'triggered')
    assert.equal(airflow.triggers.length, 2)
  })

  it('when a scheduled run is already running, then no run is triggered even without an earlier trigger', async () => {
    const {airflow, trigger} = await setup()
    airflow.runs.push({dag_run_id: 'scheduled__2026-11-27T09:00:00+00:00', dag_id: 'rps_pipeline', state: 'running', logical_date: null, data_interval_start: null, data_interval_end: null})
    const decision = await trigger.handle(drift())
    assert.equal((decision as {reason?: string}).reason, 'active_run')
    assert.equal(airflow.triggers.length, 0)
  })

  it('when Airflow fails, then the decision is a failure (transient or not) and the cooldown does not start', async () => {
    const {airflow, trigger, lines, dir} = await setup()
    airflow.failWith = new AirflowError('Airflow at http://airflow.test unreachable (read DAG rps_pipeline): ECONNREFUSED', {transient: true})
    const down = await trigger.handle(drift())
    assert.deepEqual(down, {action: 'failed', at: T0.toISOString(), dagId: 'rps_pipeline', transient: true, error: airflow.failWith.message})
    assert.ok(lines.some((l) => l.includes('retrain: FAILED for RpsConceptDrift') && l.includes('answering 503 so Alertmanager retries')))
    airflow.failWith = new AirflowError('refused a token (HTTP 401)', {status: 401, transient: false})
    const refused = await trigger.handle(drift())
    assert.equal((refused as {transient?: boolean}).transient, false)
    await assert.rejects(readFile(join(dir, 'alerts.retrain-state.json')), /ENOENT/)
    airflow.failWith = undefined
    assert.equal((await trigger.handle(drift()))?.action, 'triggered', 'the next delivery after the outage triggers')
  })

  it('when the state file is corrupt or for another DAG, then it is ignored (with a log line) and the active-run check still guards', async () => {
    const {airflow, trigger, lines, dir} = await setup()
    await writeFile(join(dir, 'alerts.retrain-state.json'), '{not json')
    assert.equal((await trigger.handle(drift()))?.action, 'triggered')
    assert.ok(lines.some((l) => l.includes('is not a retrain state')))
    await writeFile(join(dir, 'alerts.retrain-state.json'), JSON.stringify({version: 1, dagId: 'other', lastTriggered: {at: T0.toISOString(), runId: 'x', alertname: 'y'}}))
    assert.equal(((await trigger.handle(drift())) as {reason?: string}).reason, 'active_run')
    assert.equal(airflow.triggers.length, 1)
  })

  it('when the alert asks for nothing, then there is no decision and no Airflow call', async () => {
    const {airflow, trigger} = await setup()
    assert.equal(await trigger.handle({status: 'firing', labels: {alertname: 'RpsHighOodRatio'}}), undefined)
    assert.equal(await trigger.handle({...drift(), status: 'resolved'}), undefined)
    assert.equal(airflow.calls, 0)
  })

  it('when Airflow is not configured, then there is no hook; a bad URL or half the credentials is a configuration error', () => {
    const base = {cooldownSeconds: 60, alertsFile: '/tmp/a.jsonl', log: () => {}}
    assert.equal(retrainHook(base), undefined)
    assert.throws(() => retrainHook({...base, airflowUrl: 'not a url'}), /RPS_AIRFLOW_URL is not a URL/)
    assert.throws(() => retrainHook({...base, airflowUrl: 'ftp://x'}), /must be http/)
    assert.throws(() => retrainHook({...base, airflowUrl: 'http://127.0.0.1:8080', username: 'u'}), /both RPS_AIRFLOW_USERNAME and RPS_AIRFLOW_PASSWORD/)
    const hook = retrainHook({...base, airflowUrl: 'http://127.0.0.1:8080/'})
    assert.equal(hook?.stateFile, '/tmp/a.retrain-state.json')
    assert.equal(hook?.airflowUrl, 'http://127.0.0.1:8080')
  })
})
