import {strict as assert} from 'node:assert'
import {request} from 'node:http'

import {replayModel} from '../support/model.js'
import {type ServeProcess, getJson, startServe} from '../support/serve.js'

const H = 3_600_000

interface Reply {
  status: number
  contentType: string | undefined
  body: unknown
}

/**
 * POSTs `body` to /predict either with a Content-Length (the direct path of createHandler) or
 * chunked, without one (always express's route): the two must not be told apart by their answers.
 */
function post(url: string, body: string | Buffer, chunked: boolean, contentType = 'application/json'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body
    const headers: Record<string, string | number> = {'content-type': contentType}
    if (!chunked) headers['content-length'] = bytes.length
    const req = request(`${url}/predict`, {method: 'POST', headers}, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (text += d))
      res.on('end', () => resolve({status: res.statusCode!, contentType: res.headers['content-type'], body: JSON.parse(text)}))
    })
    req.on('error', reject)
    if (chunked) {
      const half = Math.floor(bytes.length / 2)
      req.write(bytes.subarray(0, half))
      req.end(bytes.subarray(half))
    } else req.end(bytes)
  })
}

describe('rps serve: /predict with a Content-Length (direct) and chunked (express)', function () {
  this.timeout(120_000)
  let serve: ServeProcess
  let example: {features: Record<string, number>}
  let variables: string[]

  before(async () => {
    const fixture = await replayModel()
    serve = await startServe(['--model-dir', fixture.modelDir])
    example = (await getJson(`${serve.url}/model`)).example
    variables = Object.keys((await getJson(`${serve.url}/openapi.json`)).components.schemas.ObservationInstance.properties.observations.items.properties).filter((k) => k !== 'time')
  })
  after(async () => {
    await serve?.stop()
  })

  const observations = (n: number) => Array.from({length: n}, (_, k) => ({
    time: new Date(Date.UTC(2026, 4, 1, 12) - (n - 1 - k) * H).toISOString().replace('.000Z', 'Z'),
    ...Object.fromEntries(variables.map((v, j) => [v, 10 + j + Math.sin(k)])),
  }))

  const cases = (): [string, string | Buffer, string?][] => [
    ['a features instance', JSON.stringify({instances: [example]})],
    ['an observations instance', JSON.stringify({instances: [{observations: observations(25)}]})],
    ['both kinds in one batch', JSON.stringify({instances: [example, {observations: observations(30)}]})],
    ['a UTF-8 byte order mark, charset=utf-8', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify({instances: [example]}))]), 'application/json; charset=utf-8'],
    ['cut-off JSON', '{"instances": ['],
    ['not an object', '5'],
    ['a missing feature', JSON.stringify({instances: [{features: {...example.features, [Object.keys(example.features)[0]!]: undefined}}]})],
    ['a string where a number goes', JSON.stringify({instances: [{features: {...example.features, [Object.keys(example.features)[1]!]: 'x'}}]})],
    ['nesting too deep', `{"instances":[${'['.repeat(50)}${']'.repeat(50)}]}`],
    ['hours out of order', JSON.stringify({instances: [{observations: observations(26).reverse()}]})],
    ['text/plain', JSON.stringify({instances: [example]}), 'text/plain'],
  ]

  it('when the same body comes both ways, then status, content type and JSON answer are identical', async () => {
    const statuses = new Set<number>()
    for (const [name, body, contentType] of cases()) {
      const direct = await post(serve.url, body, false, contentType)
      const viaExpress = await post(serve.url, body, true, contentType)
      assert.deepEqual(direct, viaExpress, name)
      statuses.add(direct.status)
    }
    // The cases cover answers and refusals alike.
    assert.deepEqual([...statuses].sort(), [200, 400, 415])
  })

  it('when requests come both ways, then /metrics counts them under one route label', async () => {
    const count = async () => {
      const text = await (await fetch(`${serve.url}/metrics`)).text()
      const line = text.split('\n').find((l) => l.startsWith('rps_http_requests_total{route="/predict",method="POST",status="200"}'))
      return line ? Number(line.split(' ').at(-1)) : 0
    }
    const before = await count()
    const body = JSON.stringify({instances: [example]})
    for (let i = 0; i < 3; i++) {
      assert.equal((await post(serve.url, body, false)).status, 200)
      assert.equal((await post(serve.url, body, true)).status, 200)
    }
    assert.equal(await count(), before + 6)
  })
})
