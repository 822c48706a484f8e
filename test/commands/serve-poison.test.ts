import {strict as assert} from 'node:assert'
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {replayModel} from '../support/model.js'
import {ROOT} from '../support/rps.js'
import {type ServeProcess, getJson, postJson, startServe} from '../support/serve.js'

const H = 3_600_000

/**
 * The requests that once stalled or killed the server (issue 12): each now answers in milliseconds
 * (4xx with the bound named, or 200 when it is valid), and /health keeps answering while they flood in.
 */
describe('rps serve under hostile requests', function () {
  this.timeout(180_000)
  let serve: ServeProcess
  let variables: string[]

  const rows = (n: number, endMs: number) => Array.from({length: n}, (_, k) => ({
    time: new Date(endMs - (n - 1 - k) * H).toISOString().replace('.000Z', 'Z'),
    ...Object.fromEntries(variables.map((v, j) => [v, 10 + j + Math.sin(k)])),
  }))
  const END = Date.UTC(2026, 4, 1, 12)

  /** name, body, expected status, expected reason */
  const poison = (): [string, string, number, RegExp][] => {
    const farBack = rows(26, END)
    farBack[0]!.time = '1026-05-01T12:00:00Z'
    const extended = rows(25, END)
    extended[3]!.time = '+100000-01-01T00:00:00Z'
    const lotsOfKeys = `{"instances":[{"features":{${Array.from({length: 60_000}, (_, i) => `"k${i}":1`).join(',')}}}]}`
    return [
      ['26 rows, the first 1,000 years earlier', JSON.stringify({instances: [{observations: farBack}]}), 400, /26 consecutive hours.*1026-05-01/],
      ['an extended-year time (+100000)', JSON.stringify({instances: [{observations: extended}]}), 400, /observations\/3\/time: must match pattern/],
      ['a week of observations (over the per-instance bound)', JSON.stringify({instances: [{observations: rows(168, END)}]}), 400, /need 25 to 100 consecutive hourly observations, got 168/],
      ['hours out of order', JSON.stringify({instances: [{observations: rows(30, END).reverse()}]}), 400, /30 consecutive hours, oldest first/],
      ['half a million instances', `{"instances":[${'1,'.repeat(500_000)}1]}`, 400, /a JSON array with more than 1000 items/],
      ['60,000 unknown feature names', lotsOfKeys, 400, /a JSON object with more than 120 keys/],
      ['nesting 100,000 deep', `{"instances":[${'['.repeat(100_000)}${']'.repeat(100_000)}]}`, 400, /nested deeper than 8 levels/],
      ['a body over the limit', JSON.stringify({instances: Array.from({length: 200}, () => ({observations: rows(100, END)}))}), 413, /larger than/],
    ]
  }

  before(async () => {
    const fixture = await replayModel()
    variables = fixture.summary.features.slice(0, 8)
    serve = await startServe(['--model-dir', fixture.modelDir])
  })
  after(async () => {
    await serve?.stop()
  })

  it('when each poison request arrives, then it answers 4xx naming the bound, and the server stays up', async () => {
    for (const [name, body, status, reason] of poison()) {
      const t0 = performance.now()
      const res = await postJson(`${serve.url}/predict`, body)
      console.log(`      ${name}: ${res.status} in ${(performance.now() - t0).toFixed(1)} ms (${body.length} bytes)`)
      assert.equal(res.status, status, `${name}: ${JSON.stringify(res.json).slice(0, 300)}`)
      assert.match(res.json.error, reason, name)
    }
    assert.deepEqual(await getJson(`${serve.url}/health`), {status: 'ok'})
  })

  it('when a ~1 MB body of 181 valid observations instances arrives, then all are predicted (no per-instance frame work)', async () => {
    const instances = Array.from({length: 181}, (_, i) => ({observations: rows(26, END - i * H)}))
    const body = JSON.stringify({instances})
    assert.ok(body.length > 900_000, `${body.length} bytes`)
    const res = await postJson(`${serve.url}/predict`, body)
    assert.equal(res.status, 200, JSON.stringify(res.json).slice(0, 300))
    assert.equal(res.json.predictions.length, 181)
    assert.equal(res.json.predictions[5].target_time, new Date(END - 5 * H + 6 * H).toISOString())
  })

  it('when flooded with poison requests, then /health keeps answering within a second and the server survives', async () => {
    const bodies = poison().filter(([, , status]) => status !== 413).map(([, body]) => body)
    const stopAt = Date.now() + 4000
    let sent = 0
    const flood = Array.from({length: 6}, async (_, c) => {
      for (let i = c; Date.now() < stopAt; i++) {
        const res = await fetch(`${serve.url}/predict`, {method: 'POST', headers: {'content-type': 'application/json'}, body: bodies[i % bodies.length]!})
        await res.arrayBuffer()
        assert.ok(res.status === 400 || res.status === 413, `status ${res.status}`)
        sent++
      }
    })
    const health: number[] = []
    const probe = (async () => {
      while (Date.now() < stopAt) {
        const t0 = performance.now()
        const res = await fetch(`${serve.url}/health`)
        await res.arrayBuffer()
        assert.equal(res.status, 200)
        health.push(performance.now() - t0)
        await new Promise((r) => setTimeout(r, 20))
      }
    })()
    await Promise.all([...flood, probe])
    assert.ok(sent > 20, `${sent} poison requests sent`)
    assert.ok(health.length > 3, `${health.length} health probes`)
    console.log(`      ${sent} poison requests, ${health.length} /health probes, slowest ${Math.max(...health).toFixed(0)} ms, median ${health.sort((a, b) => a - b)[health.length >> 1]!.toFixed(0)} ms`)
    // Before the fix one 1 MB body held /health for 17.5 s; a second leaves room for a loaded machine.
    assert.ok(Math.max(...health) < 1000, `slowest /health ${Math.max(...health).toFixed(0)} ms`)
    assert.equal(serve.child.exitCode, null)
    const metrics = await (await fetch(`${serve.url}/metrics`)).text()
    const rss = Number(/^process_resident_memory_bytes (\S+)$/m.exec(metrics)![1])
    assert.ok(rss < 400 * 2 ** 20, `RSS ${(rss / 2 ** 20).toFixed(0)} MiB after the flood`)
  })

  it('when a known path gets a wrong method, then 405 with an Allow header', async () => {
    const res = await fetch(`${serve.url}/predict`, {method: 'GET'})
    assert.equal(res.status, 405)
    assert.equal(res.headers.get('allow'), 'POST')
    const put = await fetch(`${serve.url}/health`, {method: 'PUT'})
    assert.equal(put.status, 405)
    assert.equal(put.headers.get('allow'), 'GET, HEAD')
    assert.equal((await fetch(`${serve.url}/nowhere`)).status, 404)
  })

  it('when the README\'s example request files are posted, then both instance kinds are predicted', async () => {
    for (const file of ['predict-features.json', 'predict-observations.json']) {
      const res = await postJson(`${serve.url}/predict`, await readFile(join(ROOT, 'docs/examples', file), 'utf8'))
      assert.equal(res.status, 200, `${file}: ${JSON.stringify(res.json).slice(0, 300)}`)
      assert.ok(Number.isFinite(res.json.predictions[0].prediction))
    }
    const model = await getJson(`${serve.url}/model`)
    assert.deepEqual([model.minObservations, model.maxObservations], [25, 100])
  })
})
