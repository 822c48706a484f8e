import {strict as assert} from 'node:assert'
import {mkdtemp, readFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {RetrainDecision} from '../../../src/lib/alerts/retrain-trigger.js'
import {type SinkDeps, createSinkApp} from '../../../src/lib/alerts/sink.js'
import {type RunningServer, listen} from '../../../src/lib/serve/server.js'

const drift = {status: 'firing', labels: {alertname: 'RpsConceptDrift', rps_action: 'retrain'}, fingerprint: 'f1'}
const ood = {status: 'firing', labels: {alertname: 'RpsHighOodRatio'}}
const at = '2026-11-27T10:00:00.000Z'

async function sink(onFiring?: SinkDeps['onFiring']) {
  const dir = await mkdtemp(join(tmpdir(), 'rps-sink-'))
  const file = join(dir, 'alerts.jsonl')
  const logs: string[] = []
  const running: RunningServer = await listen(createSinkApp({file, log: (l) => logs.push(l), ...(onFiring ? {onFiring} : {})}), '127.0.0.1', 0)
  const post = async (body: unknown) => {
    const res = await fetch(`${running.url}/alerts`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body)})
    return {status: res.status, json: await res.json() as any}
  }
  const lines = async () => (await readFile(file, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l))
  return {post, lines, logs, stop: () => running.shutdown(100)}
}

describe('alerts sink', () => {
  it('when no hook is configured, then alerts are appended as before, without a retrain field', async () => {
    const s = await sink()
    try {
      const res = await s.post({receiver: 'rps-alerts-sink', alerts: [drift, ood]})
      assert.deepEqual([res.status, res.json], [200, {received: 2}])
      const lines = await s.lines()
      assert.deepEqual(lines.map((l) => [l.labels.alertname, 'retrain' in l]), [['RpsConceptDrift', false], ['RpsHighOodRatio', false]])
    } finally {
      await s.stop()
    }
  })

  it('when the hook decides, then the decision is written into that alert\'s line and returned; resolved alerts never reach it', async () => {
    const seen: string[] = []
    const s = await sink(async (a) => {
      seen.push(`${a.status} ${a.labels.alertname}`)
      return a.labels.rps_action ? {action: 'skipped', at, dagId: 'rps_pipeline', reason: 'cooldown', detail: 'run r1 ...'} : undefined
    })
    try {
      const res = await s.post({alerts: [drift, ood, {...drift, status: 'resolved'}]})
      assert.equal(res.status, 200)
      assert.deepEqual(res.json.retrain, [{action: 'skipped', at, dagId: 'rps_pipeline', reason: 'cooldown', detail: 'run r1 ...'}])
      assert.deepEqual(seen, ['firing RpsConceptDrift', 'firing RpsHighOodRatio'])
      const lines = await s.lines()
      assert.equal(lines[0].retrain.reason, 'cooldown')
      assert.equal('retrain' in lines[1], false)
      assert.equal('retrain' in lines[2], false)
    } finally {
      await s.stop()
    }
  })

  it('when triggering fails transiently, then the batch is still recorded and answered 503 (Alertmanager retries); a permanent failure is answered 200', async () => {
    let transient = true
    const s = await sink(async (): Promise<RetrainDecision> => ({action: 'failed', at, dagId: 'rps_pipeline', transient, error: 'Airflow at http://x unreachable'}))
    try {
      const down = await s.post({alerts: [drift]})
      assert.equal(down.status, 503)
      assert.match(down.json.error, /could not be triggered, retry later: Airflow at http:\/\/x unreachable/)
      transient = false
      const refused = await s.post({alerts: [drift]})
      assert.equal(refused.status, 200)
      assert.deepEqual((await s.lines()).map((l) => l.retrain.transient), [true, false])
    } finally {
      await s.stop()
    }
  })

  it('when the hook throws, then it counts as a transient failure, logged', async () => {
    const s = await sink(async () => {
      throw new Error('boom')
    })
    try {
      assert.equal((await s.post({alerts: [drift]})).status, 503)
      assert.ok(s.logs.some((l) => l === 'alert hook failed: boom'))
    } finally {
      await s.stop()
    }
  })

  it('when the body or an alert is malformed, then 400 with a reason and nothing is written', async () => {
    const s = await sink()
    try {
      assert.deepEqual(await s.post({nope: 1}), {status: 400, json: {error: 'expected a webhook body with an alerts array'}})
      assert.deepEqual(await s.post({alerts: [null]}), {status: 400, json: {error: 'each alert must be an object'}})
      assert.deepEqual(await s.post({alerts: [{labels: {}}]}), {status: 400, json: {error: 'each alert needs a status (firing or resolved)'}})
      assert.deepEqual(await s.post({alerts: [{status: 'firing', labels: 'x'}]}), {status: 400, json: {error: 'each alert needs a labels object'}})
      await assert.rejects(s.lines(), /ENOENT/)
    } finally {
      await s.stop()
    }
  })
})
