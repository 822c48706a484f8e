import {strict as assert} from 'node:assert'
import {type IncomingMessage, type ServerResponse, createServer} from 'node:http'

import {AirflowClient, AirflowError} from '../../../src/lib/alerts/airflow-client.js'

/**
 * Error answers a real Airflow cannot be made to give on demand (a 500, a refused login) from a
 * loopback stand-in; the happy path runs against a real Airflow in test/integration/alerts-retrain.test.ts.
 */
async function standIn(handler: (req: IncomingMessage, body: string, res: ServerResponse) => void) {
  const seen: string[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (d: Buffer) => (body += d.toString()))
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'} ${body}`)
      handler(req, body, res)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const {port} = server.address() as {port: number}
  return {url: `http://127.0.0.1:${port}`, seen, close: () => new Promise<void>((r) => server.close(() => r()))}
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, {'content-type': 'application/json'})
  res.end(JSON.stringify(body))
}

async function failure(promise: Promise<unknown>): Promise<AirflowError> {
  try {
    await promise
  } catch (error) {
    assert.ok(error instanceof AirflowError, String(error))
    return error
  }
  assert.fail('expected an AirflowError')
}

describe('Airflow REST client', () => {
  it('when credentials are set, then the token comes from POST /auth/token and goes out as a bearer; without them from GET /auth/token', async () => {
    const s = await standIn((req, _body, res) => {
      if (req.url === '/auth/token') return json(res, 201, {access_token: 'jwt-1'})
      json(res, 200, {dag_id: 'rps_pipeline', is_paused: false})
    })
    try {
      assert.deepEqual(await new AirflowClient({url: s.url + '/', username: 'u', password: 'p'}).dag('rps_pipeline'), {dag_id: 'rps_pipeline', is_paused: false})
      await new AirflowClient({url: s.url}).dag('rps_pipeline')
      assert.deepEqual(s.seen, [
        'POST /auth/token - {"username":"u","password":"p"}',
        'GET /api/v2/dags/rps_pipeline Bearer jwt-1 ',
        'GET /auth/token - ',
        'GET /api/v2/dags/rps_pipeline Bearer jwt-1 ',
      ])
    } finally {
      await s.close()
    }
  })

  it('when Airflow refuses the login, then the error is permanent and names the variables to check', async () => {
    const s = await standIn((_req, _body, res) => json(res, 401, {detail: 'Invalid credentials'}))
    try {
      const err = await failure(new AirflowClient({url: s.url, username: 'u', password: 'wrong'}).dag('rps_pipeline'))
      assert.equal(err.transient, false)
      assert.match(err.message, /refused a token \(HTTP 401 Invalid credentials\): check RPS_AIRFLOW_USERNAME\/RPS_AIRFLOW_PASSWORD/)
    } finally {
      await s.close()
    }
  })

  it('when Airflow answers 5xx, 409 or 429, then the error is transient; 404 and 400 are not', async () => {
    let status = 500
    const s = await standIn((req, _body, res) => (req.url === '/auth/token' ? json(res, 201, {access_token: 't'}) : json(res, status, {detail: `answer ${status}`})))
    try {
      const client = new AirflowClient({url: s.url})
      for (const [code, transient] of [[500, true], [503, true], [409, true], [429, true], [404, false], [400, false], [422, false]] as const) {
        status = code
        const err = await failure(client.activeRuns('rps_pipeline'))
        assert.deepEqual([err.status, err.transient], [code, transient])
        assert.match(err.message, new RegExp(`list active runs of rps_pipeline: HTTP ${code} answer ${code}`))
      }
    } finally {
      await s.close()
    }
  })

  it('when nothing listens, then the error is transient and says unreachable', async () => {
    const s = await standIn(() => {})
    await s.close()
    const err = await failure(new AirflowClient({url: s.url, timeoutMs: 2000}).trigger('rps_pipeline', {runId: 'r', logicalDate: new Date(), conf: {}}))
    assert.equal(err.transient, true)
    assert.match(err.message, /unreachable \(get a token\): ECONNREFUSED/)
  })

  it('when a run is triggered, then the body has our run id, a timezone-aware logical date and the conf', async () => {
    const s = await standIn((req, body, res) => (req.url === '/auth/token' ? json(res, 201, {access_token: 't'}) : json(res, 200, {dag_run_id: JSON.parse(body).dag_run_id, state: 'queued'})))
    try {
      const run = await new AirflowClient({url: s.url}).trigger('rps_pipeline', {runId: 'rps_alert__X__1', logicalDate: new Date('2026-11-27T10:00:00Z'), conf: {retrain: 'always'}, note: 'n'})
      assert.equal(run.dag_run_id, 'rps_alert__X__1')
      assert.equal(s.seen[1], 'POST /api/v2/dags/rps_pipeline/dagRuns Bearer t {"dag_run_id":"rps_alert__X__1","logical_date":"2026-11-27T10:00:00.000Z","conf":{"retrain":"always"},"note":"n"}')
    } finally {
      await s.close()
    }
  })
})
