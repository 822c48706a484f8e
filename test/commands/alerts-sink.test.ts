import {strict as assert} from 'node:assert'
import {spawn} from 'node:child_process'
import {mkdtemp, readFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {killOnExit} from '../support/kill-on-exit.js'
import {ROOT, rps} from '../support/rps.js'

const TOKEN = 'cli-test-token-0123456789abcdef'

describe('rps alerts-sink (the command)', function () {
  this.timeout(60_000)

  it('when RPS_ALERT_SINK_TOKEN is unset, then it refuses to start (config error) and says how to get a token', async () => {
    const run = await rps(['alerts-sink', '--port', '0'], {RPS_ALERT_SINK_TOKEN: ''})
    assert.equal(run.exitCode, 5, run.stderr)
    assert.match(run.stderr, /RPS_ALERT_SINK_TOKEN is not set: the alerts sink requires a bearer token/)
    assert.match(run.stderr, /hint: run scripts\/env-file\.sh/)
  })

  it('when --insecure-no-auth is asked for on a non-loopback address, then it refuses to start', async () => {
    const run = await rps(['alerts-sink', '--port', '0', '--host', '0.0.0.0', '--insecure-no-auth'], {RPS_ALERT_SINK_TOKEN: ''})
    assert.equal(run.exitCode, 5, run.stderr)
    assert.match(run.stderr, /--insecure-no-auth is only allowed on a loopback address, not on 0\.0\.0\.0/)
  })

  it('when started with a token, then a POST without it is 401 and one with it is recorded', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'rps-sink-cli-')), 'alerts.jsonl')
    const child = spawn(process.execPath, [join(ROOT, 'bin/run.js'), 'alerts-sink', '--port', '0', '--file', file], {
      env: {...process.env, RPS_ALERT_SINK_TOKEN: TOKEN, RPS_AIRFLOW_URL: '', NO_COLOR: '1'}, stdio: ['ignore', 'ignore', 'pipe'],
    })
    killOnExit(child, 'SIGKILL')
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let err = ''
        child.stderr!.on('data', (d: Buffer) => {
          err += d.toString()
          const m = /listening on (http:\/\/\S+),/.exec(err)
          if (m) resolve(m[1]!)
        })
        child.once('exit', (code) => reject(new Error(`exited with ${code}: ${err}`)))
      })
      const body = JSON.stringify({alerts: [{status: 'firing', labels: {alertname: 'RpsApiDown'}}]})
      const post = (headers: Record<string, string>) => fetch(`${url}/alerts`, {method: 'POST', headers: {'content-type': 'application/json', ...headers}, body})
      assert.equal((await post({})).status, 401)
      assert.equal((await post({authorization: 'Bearer not-the-token-0123456789'})).status, 401)
      assert.equal((await post({authorization: `Bearer ${TOKEN}`})).status, 200)
      assert.deepEqual((await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l).labels.alertname), ['RpsApiDown'])
    } finally {
      child.kill('SIGTERM')
    }
  })
})
