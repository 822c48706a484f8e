import {strict as assert} from 'node:assert'
import {createHash} from 'node:crypto'
import {readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {rps, scratch} from '../support/rps.js'

describe('rps featurize', function () {
  let params: string
  let env: Record<string, string>
  let dir: string

  beforeEach(async () => {
    ;({dir, params} = await scratch())
    env = {RPS_DATA_DIR: join(dir, 'data')}
  })

  it('when replay fetches accumulate, then the history grows, overlaps are deduplicated and the dataset is rebuilt', async () => {
    await rps(['fetch', '--source', 'replay', '--at', '2026-05-10T00:00:00Z', '--past-hours', '240', '--params', params], env)
    await rps(['check', '--source', 'replay', '--params', params], env)
    const first = await rps(['featurize', '--source', 'replay', '--params', params, '--json'], env)
    assert.equal(first.exitCode, 0, first.stderr)
    assert.equal(first.json.history.hours, 240)
    assert.equal(first.json.rows, 240 - 24 - 6)
    await rps(['fetch', '--source', 'replay', '--at', '2026-05-11T00:00:00Z', '--past-hours', '72', '--params', params], env)
    await rps(['check', '--source', 'replay', '--params', params], env)
    const second = await rps(['featurize', '--source', 'replay', '--params', params, '--json'], env)
    assert.equal(second.exitCode, 0, second.stderr)
    assert.equal(second.json.history.hours, 264, 'the 72-hour window overlapped the history by 48 hours')
    assert.equal(second.json.raw.merged, 1)
    assert.equal(second.json.history.last, '2026-05-11T00:00:00.000Z')
    const summary = JSON.parse(await readFile(join(dir, 'data/processed/dataset.json'), 'utf8'))
    assert.equal(summary.sha256.length, 64)
    assert.ok(summary.features.includes('surface_pressure_diff_3'))
  })

  it('when a raw file failed the gate, then it is not merged', async () => {
    const f = await rps(['fetch', '--source', 'replay', '--at', '2026-05-10T00:00:00Z', '--past-hours', '100', '--params', params, '--json'], env)
    const body = JSON.parse(await readFile(f.json.files[0].body, 'utf8'))
    body.hourly.temperature_2m[10] = 99
    // As if the source had sent it: the meta's bodySha256 matches, so the gate (not quarantine) judges it.
    const text = JSON.stringify(body)
    await writeFile(f.json.files[0].body, text)
    const meta = JSON.parse(await readFile(f.json.files[0].meta, 'utf8'))
    meta.bodySha256 = createHash('sha256').update(text).digest('hex')
    await writeFile(f.json.files[0].meta, JSON.stringify(meta))
    const check = await rps(['check', '--source', 'replay', '--params', params], env)
    assert.equal(check.exitCode, 3)
    const run = await rps(['featurize', '--source', 'replay', '--params', params], env)
    assert.equal(run.exitCode, 1)
    assert.match(run.stderr, /no checked raw data/)
  })

  it('when the new data cannot make a dataset, then the previous dataset is kept byte for byte', async () => {
    await rps(['fetch', '--source', 'replay', '--at', '2026-05-10T00:00:00Z', '--past-hours', '100', '--params', params], env)
    await rps(['check', '--source', 'replay', '--params', params], env)
    assert.equal((await rps(['featurize', '--source', 'replay', '--params', params], env)).exitCode, 0)
    const before = await readFile(join(dir, 'data/processed/dataset.parquet'))
    // a horizon beyond the history: no complete row can exist
    const {params: longHorizon} = await scratch((p) => {
      p.features.lags = [1, 2, 3, 6, 12, 24, 168]
    })
    const run = await rps(['featurize', '--source', 'replay', '--params', longHorizon], env)
    assert.equal(run.exitCode, 1)
    assert.match(run.stderr, /no complete rows/)
    assert.deepEqual(await readFile(join(dir, 'data/processed/dataset.parquet')), before)
  })
})
