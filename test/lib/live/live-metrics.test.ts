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

/** The per-horizon part of a live-errors.json as rps forecast writes it (src/lib/live/live-errors.ts). */
function horizonDoc(extra: Record<string, unknown> = {}) {
  const stats = (mae: number, n: number) => ({mae, rmse: mae * 1.25, n})
  const window = (mae: number, n: number, coverage: Record<string, number | null>) => ({model: stats(mae, n), persistence: stats(2 * mae, n), coverage, with_bands: n})
  return JSON.stringify({
    ...JSON.parse(doc(1.25)),
    horizon_hours: 6,
    by_horizon: {
      1: {windows: {'24h': window(0.5, 24, {0.8: 0.75, 0.95: 1}), '7d': window(0.5, 168, {0.8: 0.5, 0.95: null})}},
      6: {windows: {'24h': window(2, 24, {}), '7d': window(2, 0, {})}},
    },
    intervals: {version: '3', gamma: 0.005, window: 336, by_horizon: {1: {0.8: {alpha: 0.25, halfWidth: 0.75, coverage: 0.5, n: 168}}}},
    ...extra,
  })
}

/** The live-error lines of one scrape. */
async function scrape(metrics: ServiceMetrics, pattern = /^rps_(live_error|model_validation)/): Promise<string[]> {
  return (await metrics.registry.metrics()).split('\n').filter((l) => pattern.test(l))
}

const PER_HORIZON = /^rps_(live_horizon|live_interval|interval)_/

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

  it('when the file has by_horizon and intervals, then the per-horizon error, coverage, shortfall and live band gauges show them', async () => {
    await writeFileAtomic(file, horizonDoc())
    assert.deepEqual(await scrape(metrics, PER_HORIZON), [
      'rps_live_horizon_error_rmse{window="24h",horizon="1"} 0.625',
      'rps_live_horizon_error_rmse{window="7d",horizon="1"} 0.625',
      'rps_live_horizon_error_rmse{window="24h",horizon="6"} 2.5',
      'rps_live_horizon_error_rmse{window="7d",horizon="6"} 2.5',
      'rps_live_horizon_error_mae{window="24h",horizon="1"} 0.5',
      'rps_live_horizon_error_mae{window="7d",horizon="1"} 0.5',
      'rps_live_horizon_error_mae{window="24h",horizon="6"} 2',
      'rps_live_horizon_error_mae{window="7d",horizon="6"} 2',
      'rps_live_horizon_error_samples{window="24h",horizon="1"} 24',
      'rps_live_horizon_error_samples{window="7d",horizon="1"} 168',
      'rps_live_horizon_error_samples{window="24h",horizon="6"} 24',
      'rps_live_horizon_error_samples{window="7d",horizon="6"} 0',
      'rps_live_interval_samples{window="24h",horizon="1"} 24',
      'rps_live_interval_samples{window="7d",horizon="1"} 168',
      'rps_live_interval_samples{window="24h",horizon="6"} 24',
      'rps_live_interval_samples{window="7d",horizon="6"} 0',
      'rps_live_interval_coverage_ratio{window="24h",horizon="1",level="0.8"} 0.75',
      'rps_live_interval_coverage_ratio{window="24h",horizon="1",level="0.95"} 1',
      'rps_live_interval_coverage_ratio{window="7d",horizon="1",level="0.8"} 0.5',
      `rps_live_interval_coverage_shortfall{window="24h",horizon="1",level="0.8"} ${0.8 - 0.75}`,
      `rps_live_interval_coverage_shortfall{window="24h",horizon="1",level="0.95"} ${0.95 - 1}`,
      `rps_live_interval_coverage_shortfall{window="7d",horizon="1",level="0.8"} ${0.8 - 0.5}`,
      'rps_interval_half_width{horizon="1",level="0.8"} 0.75',
      'rps_interval_aci_alpha{horizon="1",level="0.8"} 0.25',
    ])
    // The longest horizon's windows stay where they were.
    assert.ok((await scrape(metrics)).includes('rps_live_error_mae{window="24h",model="model"} 1.25'))
  })

  it('when the file is of the older format (no by_horizon, no intervals), then none of the new gauges shows and the old ones are as before', async () => {
    await writeFileAtomic(file, horizonDoc())
    assert.notDeepEqual(await scrape(metrics, PER_HORIZON), [])
    await writeFileAtomic(file, doc(1.25))
    assert.deepEqual(await scrape(metrics, PER_HORIZON), [])
    assert.equal((await scrape(metrics)).length, 7)
    assert.ok((await scrape(metrics)).includes('rps_live_error_mae{window="24h",model="model"} 1.25'))
  })

  it('when the file disappears, then the per-horizon gauges are cleared too', async () => {
    await writeFileAtomic(file, horizonDoc())
    assert.notDeepEqual(await scrape(metrics, PER_HORIZON), [])
    await rm(file)
    assert.deepEqual(await scrape(metrics, PER_HORIZON), [])
  })

  it('when the file is corrupt (odd keys, thousands of horizons, intervals null), then label values stay bounded and plain', async () => {
    const many = Object.fromEntries(Array.from({length: 500}, (_, i) => [String(i + 10), {windows: {'7d': {model: {mae: 1, rmse: 1, n: 1}, coverage: {0.8: 1}}}}]))
    const odd = {'x"}': {windows: {'7d': {model: {mae: 1, rmse: 1, n: 1}}}}, 0: {windows: {'7d': {model: {n: 1}}}}, 7: {windows: {'a b': {model: {n: 1}}, '7d': {model: {n: 1}, coverage: {2: 0.5, abc: 0.5, '-0.1': 0.5}}}}}
    await writeFileAtomic(file, horizonDoc({by_horizon: {...odd, ...many}, intervals: null}))
    const lines = await scrape(metrics, PER_HORIZON)
    const horizons = new Set(lines.map((l) => /horizon="([^"]*)"/.exec(l)![1]))
    assert.ok(horizons.size <= 48, `${horizons.size} horizons`)
    for (const line of lines) assert.match(line, /^rps_[a-z_]+\{window="7d",horizon="[1-9]\d*"(,level="0\.8")?\} [\d.e-]+$/)
    assert.deepEqual(await scrape(metrics, /^rps_interval_/), [])
    assert.deepEqual(logged, [])
  })

  it('when by_horizon is not an object, then the file still shows its old gauges and no per-horizon one', async () => {
    await writeFileAtomic(file, horizonDoc({by_horizon: [1, 2], intervals: 'x'}))
    assert.deepEqual(await scrape(metrics, PER_HORIZON), [])
    assert.equal((await scrape(metrics)).length, 7)
  })
})
