import {strict as assert} from 'node:assert'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {writeFileAtomic} from '../../../src/lib/util/atomic-file.js'
import {ServiceMetrics} from '../../../src/lib/serve/metrics.js'

/** The parts of an rps drift report (drift.json) the gauges read. */
function report(psi: number, retrain: boolean, trigger: string | null) {
  return JSON.stringify({
    checkedAt: '2026-05-20T06:00:00Z', overall: {psi: {temperature_2m: psi, surface_pressure: 0.1}, mae: 1, errorRatio: 1},
    psiThresholds: {temperature_2m: 0.5, surface_pressure: 0.3}, dataDrift: psi > 0.5, conceptDrift: false, modelAgeHours: 72,
    decision: {retrain, trigger, reason: 'x'},
  })
}

async function scrape(metrics: ServiceMetrics): Promise<string[]> {
  return (await metrics.registry.metrics()).split('\n').filter((l) => /^rps_drift_/.test(l))
}

describe('drift gauges (read from the rps drift report at scrape time)', () => {
  let dir: string
  let file: string
  let logged: string[]
  let metrics: ServiceMetrics
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rps-drift-metrics-'))
    file = join(dir, 'drift.json')
    logged = []
    metrics = new ServiceMetrics()
    metrics.watchDriftReport(file, (l) => logged.push(l))
  })
  afterEach(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  it('when there is no report, then no drift sample is exposed', async () => {
    assert.deepEqual(await scrape(metrics), [])
  })

  it('when a report is written, then PSI and its calibrated threshold per variable, the decision with its trigger, drift kinds and the model age are gauges', async () => {
    await writeFileAtomic(file, report(1.25, true, 'data_drift'))
    assert.deepEqual(await scrape(metrics), [
      'rps_drift_psi{variable="temperature_2m"} 1.25',
      'rps_drift_psi{variable="surface_pressure"} 0.1',
      'rps_drift_psi_threshold{variable="temperature_2m"} 0.5',
      'rps_drift_psi_threshold{variable="surface_pressure"} 0.3',
      'rps_drift_retrain{trigger="data_drift"} 1',
      'rps_drift_detected{kind="data"} 1',
      'rps_drift_detected{kind="concept"} 0',
      'rps_drift_model_age_seconds 259200',
      `rps_drift_checked_timestamp_seconds ${Date.parse('2026-05-20T06:00:00Z') / 1000}`,
    ])
  })

  it('when the next report says no retrain, then the old trigger series is gone; a broken report keeps the last values and is logged', async () => {
    await writeFileAtomic(file, report(1.25, true, 'data_drift'))
    await scrape(metrics)
    await writeFileAtomic(file, report(0.2, false, null))
    const lines = await scrape(metrics)
    assert.ok(lines.includes('rps_drift_retrain{trigger="none"} 0'), lines.join('\n'))
    assert.ok(!lines.some((l) => l.includes('data_drift')), lines.join('\n'))
    await writeFile(file, '{"overall": ')
    assert.deepEqual(await scrape(metrics), lines)
    assert.equal(logged.length, 1)
    assert.match(logged[0]!, /cannot read the drift report/)
  })
})
