import {strict as assert} from 'node:assert'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {writeFileAtomic} from '../../../src/lib/util/atomic-file.js'
import {ServiceMetrics} from '../../../src/lib/serve/metrics.js'

function doc(mae24: number, updated = '2026-05-20T06:00:00Z') {
  return JSON.stringify({
    updated_at: updated, data_end: '2026-05-20T05:00:00Z',
    windows: {
      '24h': {hours: 24, model: {mae: mae24, rmse: 1.5, n: 20}, persistence: {mae: 2, rmse: 2.5, n: 20}},
      '7d': {hours: 168, model: {mae: null, rmse: null, n: 0}, persistence: {mae: null, rmse: null, n: 0}},
    },
  })
}

/** The live-error lines of one scrape. */
async function scrape(metrics: ServiceMetrics): Promise<string[]> {
  return (await metrics.registry.metrics()).split('\n').filter((l) => /^rps_(live_error|model_validation)/.test(l))
}

describe('live error gauges (read from live-errors.json at scrape time)', () => {
  let dir: string
  let file: string
  let logged: string[]
  let metrics: ServiceMetrics
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rps-live-metrics-'))
    file = join(dir, 'live-errors.json')
    logged = []
    metrics = new ServiceMetrics()
    metrics.watchLiveErrors(file, (l) => logged.push(l))
  })
  afterEach(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  it('when the file is missing, then no live error sample is exposed', async () => {
    assert.deepEqual(await scrape(metrics), [])
  })

  it('when the file is written, then every finite number becomes a gauge sample; null errors stay absent', async () => {
    await writeFileAtomic(file, doc(1.25))
    assert.deepEqual(await scrape(metrics), [
      'rps_live_error_mae{window="24h",model="model"} 1.25',
      'rps_live_error_mae{window="24h",model="persistence"} 2',
      'rps_live_error_rmse{window="24h",model="model"} 1.5',
      'rps_live_error_rmse{window="24h",model="persistence"} 2.5',
      'rps_live_error_samples{window="24h"} 20',
      'rps_live_error_samples{window="7d"} 0',
      `rps_live_error_updated_timestamp_seconds ${Date.parse('2026-05-20T06:00:00Z') / 1000}`,
    ])
  })

  it('when the file changes, then the next scrape shows the new values; when it turns unreadable, the last values stay and it is logged once', async () => {
    await writeFileAtomic(file, doc(1.25))
    await scrape(metrics)
    await writeFileAtomic(file, doc(0.75))
    assert.ok((await scrape(metrics)).includes('rps_live_error_mae{window="24h",model="model"} 0.75'))
    await writeFile(file, '{"windows": {')
    const kept = await scrape(metrics)
    assert.ok(kept.includes('rps_live_error_mae{window="24h",model="model"} 0.75'), kept.join('\n'))
    await scrape(metrics)
    assert.equal(logged.length, 1)
    assert.match(logged[0]!, /cannot read live errors from .*live-errors\.json: .*keeping the last values/)
    await rm(file)
    assert.deepEqual(await scrape(metrics), [])
  })

  it('when the served model has a validation MAE, then rps_model_validation_mae shows it; without one it is absent', async () => {
    let mae: number | undefined = 0.9
    metrics.trackValidationMae(() => mae)
    assert.deepEqual(await scrape(metrics), ['rps_model_validation_mae 0.9'])
    mae = undefined
    assert.deepEqual(await scrape(metrics), [])
  })
})
