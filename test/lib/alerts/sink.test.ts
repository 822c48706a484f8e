import {strict as assert} from 'node:assert'
import {mkdtemp, readFile, readdir, stat} from 'node:fs/promises'
import {createServer} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {RetrainDecision} from '../../../src/lib/alerts/retrain-trigger.js'
import {ConfigError} from '../../../src/lib/errors.js'
import {type SinkDeps, createSinkApp, escapeSlack, resolveSinkToken, tokenMatches} from '../../../src/lib/alerts/sink.js'
import {type RunningServer, listen} from '../../../src/lib/serve/server.js'

const drift = {status: 'firing', labels: {alertname: 'RpsConceptDrift', rps_action: 'retrain'}, fingerprint: 'f1'}
const ood = {status: 'firing', labels: {alertname: 'RpsHighOodRatio'}}
const at = '2026-11-27T10:00:00.000Z'

const TOKEN = 'test-token-0123456789abcdef'

async function sink(onFiring?: SinkDeps['onFiring'], extra: Partial<SinkDeps> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'rps-sink-'))
  const file = join(dir, 'alerts.jsonl')
  const logs: string[] = []
  const running: RunningServer = await listen(createSinkApp({file, token: TOKEN, log: (l) => logs.push(l), ...(onFiring ? {onFiring} : {}), ...extra}), '127.0.0.1', 0)
  /** authorization null: no Authorization header. */
  const send = async (body: string, authorization: string | null = `Bearer ${TOKEN}`) => {
    const res = await fetch(`${running.url}/alerts`, {method: 'POST', headers: {'content-type': 'application/json', ...(authorization === null ? {} : {authorization})}, body})
    return {status: res.status, json: await res.json() as any, headers: res.headers}
  }
  const post = async (body: unknown, authorization?: string | null) => {
    const {status, json} = await send(JSON.stringify(body), authorization)
    return {status, json}
  }
  const lines = async () => (await readFile(file, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l))
  return {post, send, lines, logs, dir, file, stop: () => running.shutdown(100)}
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

  it('when the bearer token is missing or wrong, then 401 before the body is read, and nothing is written', async () => {
    const s = await sink()
    try {
      for (const auth of [null, 'Bearer wrong-token-0123456789abcdef', `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${TOKEN}`, TOKEN, 'Bearer ']) {
        const res = await s.send(JSON.stringify({alerts: [drift]}), auth)
        assert.equal(res.status, 401, String(auth))
        assert.match(res.json.error, /bearer token/)
        assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="rps alerts-sink"')
      }
      // Not even parsed: a malformed body without a token is 401, not 400.
      assert.equal((await s.send('{not json', null)).status, 401)
      await assert.rejects(s.lines(), /ENOENT/)
    } finally {
      await s.stop()
    }
  })

  it('when the right bearer token is sent, then 200 and the alert is written; /health needs none', async () => {
    const s = await sink()
    try {
      assert.deepEqual(await s.post({alerts: [drift]}, `Bearer ${TOKEN}`), {status: 200, json: {received: 1}})
      assert.deepEqual(await s.post({alerts: [ood]}, `bearer  ${TOKEN}`), {status: 200, json: {received: 1}})
      assert.deepEqual((await s.lines()).map((l) => l.labels.alertname), ['RpsConceptDrift', 'RpsHighOodRatio'])
    } finally {
      await s.stop()
    }
  })

  it('when authentication is off (token null), then posts without a token are accepted', async () => {
    const s = await sink(undefined, {token: null})
    try {
      assert.equal((await s.post({alerts: [drift]}, null)).status, 200)
    } finally {
      await s.stop()
    }
  })

  it('when the body is larger than the limit, then 413 and nothing is written', async () => {
    const s = await sink(undefined, {bodyLimitBytes: 2048})
    try {
      const big = {alerts: [{...drift, annotations: {summary: 'x'.repeat(4096)}}]}
      const res = await s.post(big)
      assert.equal(res.status, 413)
      await assert.rejects(s.lines(), /ENOENT/)
    } finally {
      await s.stop()
    }
  })

  it('when the file would pass its cap, then it is rotated to <file>.1 (one rotated file kept) and no batch is split', async () => {
    const maxFileBytes = 1024
    const s = await sink(undefined, {maxFileBytes})
    try {
      const n = 30
      await Promise.all(Array.from({length: n}, (_, i) => s.post({alerts: [{...ood, labels: {alertname: `A${i}`}}, {...ood, labels: {alertname: `B${i}`}}]})))
      assert.deepEqual((await readdir(s.dir)).sort(), ['alerts.jsonl', 'alerts.jsonl.1'])
      assert.ok((await stat(s.file)).size <= maxFileBytes)
      assert.ok((await stat(`${s.file}.1`)).size <= maxFileBytes)
      const current = await s.lines()
      const rotated = (await readFile(`${s.file}.1`, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l))
      const names = [...rotated, ...current].map((l) => l.labels.alertname as string)
      // The newest batches survive, each one whole (A and B of a request are never apart).
      assert.equal(names.at(-1)?.startsWith('B'), true)
      for (let i = 0; i < names.length; i += 2) assert.equal(names[i]!.slice(1), names[i + 1]!.slice(1))
      assert.ok(names.length < 2 * n, 'older batches were dropped with the older rotated file')
      assert.equal(((await stat(s.file)).mode & 0o777), 0o600)
    } finally {
      await s.stop()
    }
  })

  it('when alerts are forwarded to Slack, then mentions, links and entities in their text arrive escaped', async () => {
    const received: any[] = []
    const slack = createServer((req, res) => {
      let body = ''
      req.on('data', (d) => (body += d))
      req.on('end', () => {
        received.push(JSON.parse(body))
        res.end('ok')
      })
    })
    await new Promise<void>((r) => slack.listen(0, '127.0.0.1', () => r()))
    const {port} = slack.address() as {port: number}
    const s = await sink(undefined, {slackWebhookUrl: `http://127.0.0.1:${port}/hook`})
    try {
      const evil = {status: 'firing', labels: {alertname: '<!here>'}, annotations: {summary: '<!channel> ping <@U0123ABC> <https://evil.example|click here> & <!subteam^S1> 1 < 2 > 0'}}
      assert.equal((await s.post({alerts: [evil]})).status, 200)
      assert.equal(received.length, 1)
      assert.equal(received[0].text, '*FIRING* &lt;!here&gt;: &lt;!channel&gt; ping &lt;@U0123ABC&gt; &lt;https://evil.example|click here&gt; &amp; &lt;!subteam^S1&gt; 1 &lt; 2 &gt; 0')
      assert.doesNotMatch(received[0].text, /[<>]/)
      assert.equal(received[0].link_names, false)
    } finally {
      await s.stop()
      slack.close()
    }
  })
})

describe('escapeSlack', () => {
  it('when text holds &, < or >, then each becomes its entity, & first (no double escaping of what it adds)', () => {
    assert.equal(escapeSlack('a & b <!channel> &lt;'), 'a &amp; b &lt;!channel&gt; &amp;lt;')
    assert.equal(escapeSlack('plain *bold* text'), 'plain *bold* text')
  })
})

describe('tokenMatches', () => {
  it('when the token differs in content or length, then false; equal, then true', () => {
    assert.equal(tokenMatches('abcdefghijklmnop', 'abcdefghijklmnop'), true)
    assert.equal(tokenMatches('abcdefghijklmnoq', 'abcdefghijklmnop'), false)
    assert.equal(tokenMatches('abcdefghijklmno', 'abcdefghijklmnop'), false)
    assert.equal(tokenMatches('', 'abcdefghijklmnop'), false)
  })
})

describe('resolveSinkToken', () => {
  it('when RPS_ALERT_SINK_TOKEN is set, then it is required, whatever --insecure-no-auth says', () => {
    assert.equal(resolveSinkToken({token: 'abcdefghijklmnop', insecureNoAuth: false, host: '0.0.0.0'}), 'abcdefghijklmnop')
    assert.equal(resolveSinkToken({token: 'abcdefghijklmnop', insecureNoAuth: true, host: '127.0.0.1'}), 'abcdefghijklmnop')
  })

  it('when the token is unset, then the sink refuses to start unless --insecure-no-auth on loopback', () => {
    assert.throws(() => resolveSinkToken({token: undefined, insecureNoAuth: false, host: '127.0.0.1'}), (e: Error) => e instanceof ConfigError && /RPS_ALERT_SINK_TOKEN is not set/.test(e.message))
    assert.throws(() => resolveSinkToken({token: '', insecureNoAuth: false, host: '127.0.0.1'}), ConfigError)
    assert.throws(() => resolveSinkToken({token: undefined, insecureNoAuth: true, host: '0.0.0.0'}), /only allowed on a loopback address, not on 0\.0\.0\.0/)
    assert.equal(resolveSinkToken({token: undefined, insecureNoAuth: true, host: '127.0.0.1'}), null)
    assert.equal(resolveSinkToken({token: undefined, insecureNoAuth: true, host: '::1'}), null)
  })

  it('when the token is short or has blanks, then it is refused', () => {
    assert.throws(() => resolveSinkToken({token: 'short', insecureNoAuth: false, host: '127.0.0.1'}), /at least 16 characters/)
    assert.throws(() => resolveSinkToken({token: 'abcdefgh ijklmnopq', insecureNoAuth: false, host: '127.0.0.1'}), /without blanks/)
  })
})
