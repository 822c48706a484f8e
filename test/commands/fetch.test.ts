import {strict as assert} from 'node:assert'
import {spawn} from 'node:child_process'
import {watch} from 'node:fs'
import {mkdir, readFile, readdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {FakeWeatherApi} from '../support/fake-weather-api.js'
import {ROOT, rps, scratch} from '../support/rps.js'

describe('rps fetch', function () {
  const api = new FakeWeatherApi()
  let dir: string
  let params: string
  let env: Record<string, string>

  before(async () => {
    await api.start()
  })
  after(async () => {
    await api.stop()
  })
  beforeEach(async () => {
    api.reset()
    ;({dir, params} = await scratch())
    env = {
      RPS_DATA_DIR: join(dir, 'data'),
      RPS_OPEN_METEO_URL: `${api.url}/v1/forecast`,
      RPS_OPEN_METEO_ARCHIVE_URL: `${api.url}/v1/archive`,
      RPS_OPENWEATHERMAP_URL: `${api.url}/data/2.5/weather`,
    }
  })

  describe('--source open-meteo', () => {
    it('when the API answers, then the body is saved as received with its metadata and passes the gate', async () => {
      const run = await rps(['fetch', '--source', 'open-meteo', '--params', params, '--json'], env)
      assert.equal(run.exitCode, 0, run.stderr)
      assert.equal(run.json.source, 'open-meteo')
      const [file] = run.json.files
      assert.equal(file.kind, 'forecast')
      assert.match(file.body, /data\/raw\/open-meteo\/greensboro-nc\/\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}Z-forecast\.json$/)
      const body = JSON.parse(await readFile(file.body, 'utf8'))
      assert.deepEqual(Object.keys(body.hourly).slice(0, 2), ['time', 'temperature_2m'])
      const meta = JSON.parse(await readFile(file.meta, 'utf8'))
      assert.equal(meta.httpStatus, 200)
      assert.equal(meta.request.params.past_days, 3)
      assert.equal(meta.request.params.timezone, 'GMT')
      assert.ok(Date.parse(meta.collectedAt) <= Date.now())
      const q = api.requests[0]!.query
      assert.equal(q.hourly, 'temperature_2m,relative_humidity_2m,dew_point_2m,surface_pressure,wind_speed_10m,wind_direction_10m,cloud_cover,shortwave_radiation')
      const check = await rps(['check', '--source', 'open-meteo', '--params', params, '--json'], env)
      assert.equal(check.exitCode, 0, check.stdout + check.stderr)
      assert.equal(check.json.passed, true)
    })

    it('when --backfill-days is given, then the archive endpoint is called first and both responses are saved', async () => {
      const run = await rps(['fetch', '--source', 'open-meteo', '--backfill-days', '30', '--params', params, '--json'], env)
      assert.equal(run.exitCode, 0, run.stderr)
      assert.deepEqual(run.json.files.map((f: {kind: string}) => f.kind), ['archive', 'forecast'])
      assert.deepEqual(api.requests.map((r) => r.path), ['/v1/archive', '/v1/forecast'])
      const archive = api.requests[0]!.query
      const days = (Date.parse(archive.end_date!) - Date.parse(archive.start_date!)) / 86_400_000
      assert.equal(days, 24)
      assert.equal(api.requests[1]!.query.past_days, '7')
      const check = await rps(['check', '--source', 'open-meteo', '--params', params, '--json'], env)
      assert.equal(check.exitCode, 0, check.stdout)
      assert.equal(check.json.reports.length, 2)
      assert.equal(check.json.reports[0].checks.find((c: {name: string}) => c.name === 'freshness').status, 'skip')
    })

    it('when the API answers 503 then 200, then the fetch retries and succeeds', async () => {
      api.enqueue({status: 503, body: JSON.stringify({error: true, reason: 'Too many concurrent requests'})}, {status: 503, body: ''})
      const run = await rps(['fetch', '--source', 'open-meteo', '--params', params, '--json'], env)
      assert.equal(run.exitCode, 0, run.stderr)
      assert.equal(run.json.files[0].attempts, 3)
      assert.equal(api.requests.length, 3)
    })

    it('when a retry happens on plain output (CI, Airflow logs), then its line is printed once', async () => {
      api.enqueue({status: 503, body: ''})
      const run = await rps(['fetch', '--source', 'open-meteo', '--params', params], env)
      assert.equal(run.exitCode, 0, run.stderr)
      assert.equal(run.stderr.match(/attempt 1 failed .*; retrying in/g)?.length, 1, run.stderr)
    })

    it('when the API answers 429 with Retry-After, then the fetch waits that long before retrying', async () => {
      api.enqueue({status: 429, headers: {'retry-after': '1'}, body: JSON.stringify({error: true, reason: 'Minutely API request limit exceeded. Please try again in one minute.'})})
      const started = Date.now()
      const run = await rps(['fetch', '--source', 'open-meteo', '--params', params], env)
      assert.equal(run.exitCode, 0, run.stderr)
      assert.ok(Date.now() - started >= 1000, 'waited at least Retry-After')
      assert.equal(api.requests.length, 2)
    })

    it('when Retry-After exceeds the configured maximum delay, then the fetch fails at once with the reason', async () => {
      api.enqueue({status: 429, headers: {'retry-after': '3600'}, body: JSON.stringify({error: true, reason: 'Hourly API request limit exceeded. Please try again in the next hour.'})})
      const run = await rps(['fetch', '--source', 'open-meteo', '--params', params], env)
      assert.equal(run.exitCode, 4)
      assert.match(run.stderr, /Hourly API request limit exceeded.*retry after 3600 s/)
      assert.equal(api.requests.length, 1)
    })

    it('when the API keeps failing, then the fetch gives up after the configured attempts with exit 4 and saves nothing', async () => {
      for (let i = 0; i < 4; i++) api.enqueue({status: 502, body: '<html>Bad Gateway</html>'})
      const run = await rps(['fetch', '--source', 'open-meteo', '--params', params], env)
      assert.equal(run.exitCode, 4)
      assert.match(run.stderr, /gave up after 4 attempt\(s\): HTTP 502/)
      assert.equal(api.requests.length, 4)
      await assert.rejects(readdir(join(dir, 'data/raw/open-meteo/greensboro-nc')))
    })

    it('when the API rejects a parameter (400), then the fetch fails at once with exit 5, the API\'s reason and the key to fix', async () => {
      const run = await rps(['fetch', '--source', 'open-meteo', '--latitude', '95', '--params', params], env)
      assert.equal(run.exitCode, 5)
      assert.match(run.stderr, /rejected a request parameter: HTTP 400: Latitude must be in range of -90 to 90°\. Given: 95\. \(fix location\.latitude \(--latitude\)\)/)
      assert.equal(api.requests.length, 1)
    })

    it('when the API answers 400 for a variable it does not serve, then exit 5 names params.yaml variables', async () => {
      const {params: withMsl} = await scratch((p) => {
        p.variables.push('pressure_msl')
      })
      const run = await rps(['fetch', '--source', 'open-meteo', '--params', withMsl], env)
      assert.equal(run.exitCode, 5, run.stderr)
      assert.match(run.stderr, /HTTP 400: .*invalid String value pressure_msl\. \(fix variables\)/)
      assert.equal(api.requests.length, 1)
    })

    it('when a 200 body is not valid JSON (garbage after the document), then it is retried, never saved as data', async () => {
      for (let i = 0; i < 4; i++) api.enqueue({appendGarbage: '\nUnexpected error while streaming data'})
      const run = await rps(['fetch', '--source', 'open-meteo', '--params', params], env)
      assert.equal(run.exitCode, 4)
      assert.match(run.stderr, /not valid JSON/)
      await assert.rejects(readdir(join(dir, 'data/raw/open-meteo/greensboro-nc')))
    })

    it('when the connection drops mid-body or the answer is too slow, then the fetch retries', async () => {
      api.enqueue({truncate: true}, {delayMs: 2500})
      const run = await rps(['fetch', '--source', 'open-meteo', '--params', params, '--json'], env)
      assert.equal(run.exitCode, 0, run.stderr)
      assert.equal(run.json.files[0].attempts, 3)
    })

    it('when nothing listens, then the fetch fails with a clear connection error', async () => {
      const run = await rps(['fetch', '--source', 'open-meteo', '--params', params, '--retries', '1'], {...env, RPS_OPEN_METEO_URL: 'http://127.0.0.1:9/v1/forecast'})
      assert.equal(run.exitCode, 4)
      assert.match(run.stderr, /127\.0\.0\.1:9: gave up after 2 attempt\(s\): connection refused/)
    })
  })

  describe('--source openweathermap', () => {
    it('when OPENWEATHERMAP_API_KEY is missing, then it fails with a clear message before any request', async () => {
      const run = await rps(['fetch', '--source', 'openweathermap', '--params', params], env)
      assert.equal(run.exitCode, 5)
      assert.match(run.stderr, /needs OPENWEATHERMAP_API_KEY/)
      assert.equal(api.requests.length, 0)
    })

    it('when the key is wrong, then the API\'s 401 message is shown', async () => {
      const run = await rps(['fetch', '--source', 'openweathermap', '--params', params], {...env, OPENWEATHERMAP_API_KEY: 'nope'})
      assert.equal(run.exitCode, 4)
      assert.match(run.stderr, /HTTP 401: Invalid API key/)
    })

    it('when the key is right, then one observation is saved without the key and passes the gate', async () => {
      const run = await rps(['fetch', '--source', 'openweathermap', '--params', params, '--json'], {...env, OPENWEATHERMAP_API_KEY: 'test-key'})
      assert.equal(run.exitCode, 0, run.stderr)
      const meta = await readFile(run.json.files[0].meta, 'utf8')
      assert.doesNotMatch(meta, /test-key/)
      const check = await rps(['check', '--source', 'openweathermap', '--params', params, '--json'], env)
      assert.equal(check.exitCode, 0, check.stdout)
      assert.equal(check.json.reports[0].rows, 1)
    })
  })

  describe('--source csv', () => {
    it('when given a CSV with a time column, then it is saved in the Open-Meteo format and checked like live data', async () => {
      const lines = ['time,temperature_2m,relative_humidity_2m']
      for (let h = 0; h < 30; h++) lines.push(`2026-01-01T${String(h % 24).padStart(2, '0')}:00:00${h >= 24 ? '+01:00' : 'Z'},${(h / 3).toFixed(1)},${50 + h}`)
      const csv = join(dir, 'obs.csv')
      await writeFile(csv, lines.slice(0, 25).join('\n') + '\n')
      const run = await rps(['fetch', '--source', 'csv', '--file', csv, '--params', params, '--json'], env)
      assert.equal(run.exitCode, 0, run.stderr)
      const body = JSON.parse(await readFile(run.json.files[0].body, 'utf8'))
      assert.equal(body.hourly.time[0], '2026-01-01T00:00')
      assert.deepEqual(Object.keys(body.hourly), ['time', 'temperature_2m', 'relative_humidity_2m'])
      const check = await rps(['check', '--source', 'csv', '--params', params, '--json'], env)
      assert.equal(check.exitCode, 0, check.stdout)
    })

    it('when the CSV has no target column, then it fails with a clear message', async () => {
      const csv = join(dir, 'bad.csv')
      await writeFile(csv, 'time,relative_humidity_2m\n2026-01-01T00:00Z,50\n')
      const run = await rps(['fetch', '--source', 'csv', '--file', csv, '--params', params], env)
      assert.equal(run.exitCode, 5)
      assert.match(run.stderr, /has no 'temperature_2m' column/)
    })
  })

  describe('--source replay', () => {
    it('when fetched at increasing --at, then windows move forward and no hour after --at appears', async () => {
      const first = await rps(['fetch', '--source', 'replay', '--at', '2026-03-01T12:30:00Z', '--past-hours', '24', '--params', params, '--json'], env)
      const second = await rps(['fetch', '--source', 'replay', '--at', '2026-03-02T12:30:00Z', '--past-hours', '24', '--params', params, '--json'], env)
      assert.equal(first.exitCode, 0, first.stderr)
      assert.equal(second.exitCode, 0, second.stderr)
      const a = JSON.parse(await readFile(first.json.files[0].body, 'utf8')).hourly.time as string[]
      const b = JSON.parse(await readFile(second.json.files[0].body, 'utf8')).hourly.time as string[]
      assert.equal(a.length, 24)
      assert.equal(a.at(-1), '2026-03-01T12:00')
      assert.equal(b[0], '2026-03-01T13:00', 'the second window starts right after the first')
      assert.equal(b.at(-1), '2026-03-02T12:00')
      for (const t of [...a, ...b]) assert.ok(Date.parse(`${t}Z`) <= Date.parse('2026-03-02T12:30:00Z'))
      assert.ok(a.every((t) => Date.parse(`${t}Z`) <= Date.parse('2026-03-01T12:30:00Z')))
    })

    it('when the replay clock is the same hour in another year, then the same recorded values are served', async () => {
      const a = await rps(['fetch', '--source', 'replay', '--at', '2025-07-04T18:00:00Z', '--past-hours', '3', '--params', params, '--json'], env)
      const b = await rps(['fetch', '--source', 'replay', '--at', '2030-07-04T18:00:00Z', '--past-hours', '3', '--params', params, '--json'], env)
      const ta = JSON.parse(await readFile(a.json.files[0].body, 'utf8')).hourly.temperature_2m
      const tb = JSON.parse(await readFile(b.json.files[0].body, 'utf8')).hourly.temperature_2m
      assert.deepEqual(ta, tb)
      assert.equal(ta.length, 3)
    })

    it('when --at is not a time, then it fails with a usage message', async () => {
      const run = await rps(['fetch', '--source', 'replay', '--at', 'yesterday', '--params', params], env)
      assert.equal(run.exitCode, 5)
      assert.match(run.stderr, /--at 'yesterday' is not an ISO 8601 time/)
    })
  })

  it('when the process is killed while writing, then no partial raw file is left under its final name', async function () {
    // A large archive answer takes long enough to write that the kill lands mid-write. Building
    // that answer can take seconds on a loaded runner: the request timeout must not end the run first.
    const {params: bigParams} = await scratch((p) => {
      p.fetch.timeout_ms = 120_000
    })
    const out = join(dir, 'data/raw/open-meteo/greensboro-nc')
    await mkdir(out, {recursive: true})
    const child = spawn(process.execPath, [join(ROOT, 'bin/run.js'), 'fetch', '--source', 'open-meteo', '--backfill-days', '20000', '--params', bigParams], {
      env: {...process.env, ...env}, stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const killedOnTemp = await new Promise<boolean>((resolve) => {
      const watcher = watch(out, (_event, name) => {
        if (name && name.endsWith('.tmp')) {
          child.kill('SIGKILL')
          watcher.close()
          resolve(true)
        }
      })
      child.on('exit', () => {
        watcher.close()
        resolve(false)
      })
    })
    await new Promise((resolve) => (child.exitCode === null && child.signalCode === null ? child.on('exit', resolve) : resolve(undefined)))
    assert.ok(killedOnTemp, `the writer was killed while its temp file existed (it exited first: ${stderr.trim()})`)
    const names = await readdir(out)
    assert.deepEqual(names.filter((n) => !n.endsWith('.tmp')), [], `only temp files may remain, found ${names.join(', ')}`)
    const check = await rps(['check', '--source', 'open-meteo', '--params', params], env)
    assert.notEqual(check.exitCode, 0)
    assert.match(check.stderr, /no raw data/)
  })

  describe('params validation before any work', () => {
    it('when variables has names the source does not know, then every one is listed, exit 5, and nothing is requested', async () => {
      const {params: bad} = await scratch((p) => {
        p.variables.push('snow_depth_xyz', 'wind_speed_10m_typo')
      })
      const run = await rps(['fetch', '--source', 'open-meteo', '--params', bad], env)
      assert.equal(run.exitCode, 5, run.stderr)
      assert.match(run.stderr, /params\.yaml variables: snow_depth_xyz, wind_speed_10m_typo are not known to the open-meteo source/)
      assert.equal(api.requests.length, 0)
    })

    it('when a variable is not in the replay dataset, then fetch, check and featurize exit 5 naming it', async () => {
      const {params: bad} = await scratch((p) => {
        p.variables.push('pressure_msl')
      })
      for (const command of ['fetch', 'check', 'featurize']) {
        const run = await rps([command, '--source', 'replay', '--params', bad], env)
        assert.equal(run.exitCode, 5, `${command}: ${run.stderr}`)
        assert.match(run.stderr, /params\.yaml variables: pressure_msl is not known to the replay source \(the replay dataset has temperature_2m, /)
      }
    })

    it('when a lag variable was removed from variables, then featurize exits 5 naming features.lag_variables (not a polars error)', async () => {
      const {params: bad} = await scratch((p) => {
        p.variables = p.variables.filter((v: string) => v !== 'wind_speed_10m')
      })
      const run = await rps(['featurize', '--source', 'replay', '--params', bad], env)
      assert.equal(run.exitCode, 5, run.stderr)
      assert.match(run.stderr, /features\.lag_variables: wind_speed_10m is not in variables/)
      assert.doesNotMatch(run.stderr, /unable to find column/)
    })
  })
})
