import {strict as assert} from 'node:assert'
import {existsSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {FakeWeatherApi} from '../support/fake-weather-api.js'
import {rps, scratch} from '../support/rps.js'

type Doc = Record<string, any>

/** Number of hourly rows at or before now: the part of a forecast answer that counts as observed. */
function observedRows(doc: Doc): number {
  return (doc.hourly.time as string[]).filter((t) => Date.parse(`${t}Z`) <= Date.now()).length
}

const DEFECTS: {name: string; failed: string[]; mutate: (doc: Doc) => void}[] = [
  {
    name: '2 % nulls in the target',
    failed: ['null_ratio:temperature_2m'],
    mutate(doc) {
      const n = observedRows(doc)
      const nulls = Math.ceil(n * 0.02)
      for (let i = 0; i < nulls; i++) doc.hourly.temperature_2m[i * 3] = null
    },
  },
  {
    name: 'a duplicate hour',
    failed: ['timestamps_no_duplicates'],
    mutate(doc) {
      doc.hourly.time[5] = doc.hourly.time[4]
    },
  },
  {
    name: 'a missing field',
    failed: ['schema'],
    mutate(doc) {
      delete doc.hourly_units
    },
  },
  {
    name: 'a wrong type',
    failed: ['schema'],
    mutate(doc) {
      doc.hourly.temperature_2m[3] = '12.5'
    },
  },
  {
    name: 'unequal arrays',
    failed: ['arrays_equal_length'],
    mutate(doc) {
      doc.hourly.relative_humidity_2m.pop()
    },
  },
  {
    name: 'an impossible temperature',
    failed: ['range:temperature_2m'],
    mutate(doc) {
      doc.hourly.temperature_2m[2] = 75
    },
  },
  {
    name: 'stale data (newest observation 10 h old)',
    failed: ['freshness'],
    mutate(doc) {
      const keep = (doc.hourly.time as string[]).filter((t) => Date.parse(`${t}Z`) <= Date.now() - 10 * 3_600_000).length
      for (const key of Object.keys(doc.hourly)) doc.hourly[key] = doc.hourly[key].slice(0, keep)
    },
  },
  {
    name: 'timestamps that do not parse',
    failed: ['timestamps_parse'],
    mutate(doc) {
      doc.hourly.time[1] = 'yesterday'
    },
  },
]

describe('rps check (the quality gate)', function () {
  const api = new FakeWeatherApi()
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
    const s = await scratch()
    params = s.params
    env = {RPS_DATA_DIR: join(s.dir, 'data'), RPS_OPEN_METEO_URL: `${api.url}/v1/forecast`}
  })

  it('when the payload is clean, then every check passes, exit 0, and the report is written', async () => {
    await rps(['fetch', '--source', 'open-meteo', '--params', params], env)
    const run = await rps(['check', '--source', 'open-meteo', '--params', params, '--json'], env)
    assert.equal(run.exitCode, 0, run.stdout + run.stderr)
    const report = JSON.parse(await readFile(run.json.reports[0].report, 'utf8'))
    assert.equal(report.passed, true)
    assert.deepEqual(report.failed, [])
    assert.ok(report.checks.length >= 20)
    assert.ok(report.checks.every((c: {status: string}) => c.status !== 'fail'))
  })

  for (const defect of DEFECTS) {
    it(`when the payload has ${defect.name}, then the gate fails with exit 3 naming ${defect.failed.join(', ')}`, async () => {
      api.mutate = defect.mutate
      const fetch = await rps(['fetch', '--source', 'open-meteo', '--params', params], env)
      assert.equal(fetch.exitCode, 0, fetch.stderr)
      const run = await rps(['check', '--source', 'open-meteo', '--params', params, '--json'], env)
      assert.equal(run.exitCode, 3, run.stdout + run.stderr)
      assert.equal(run.json.passed, false)
      const report = JSON.parse(await readFile(run.json.reports[0].report, 'utf8'))
      assert.deepEqual(report.failed, defect.failed)
      const human = await rps(['check', '--source', 'open-meteo', '--params', params], env)
      assert.equal(human.exitCode, 3)
      assert.match(human.stderr, new RegExp(`quality gate failed .*${defect.failed[0]!.replace(/[:]/g, '.')}`))
    })
  }

  it('when there is no raw data, then it says what to run', async () => {
    const run = await rps(['check', '--source', 'open-meteo', '--params', params], env)
    assert.equal(run.exitCode, 1)
    assert.match(run.stderr, /no raw data in .*run: rps fetch --source open-meteo/s)
  })

  it('when given a file whose metadata is missing, then it refuses it as incomplete', async () => {
    const fetch = await rps(['fetch', '--source', 'open-meteo', '--params', params, '--json'], env)
    const {rm} = await import('node:fs/promises')
    await rm(fetch.json.files[0].meta)
    const run = await rps(['check', '--file', fetch.json.files[0].body, '--params', params], env)
    assert.equal(run.exitCode, 1)
    assert.match(run.stderr, /has no readable metadata/)
    assert.equal(existsSync(fetch.json.files[0].body.replace(/\.json$/, '.quality.json')), false)
  })
})
