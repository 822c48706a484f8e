import {strict as assert} from 'node:assert'

import {type DriftSettings} from '../../../src/lib/drift/detect.js'
import {noChampionHtml, observedWindow} from '../../../src/lib/drift/report.js'
import type {HourlyTable} from '../../../src/lib/features/hourly-table.js'

const HOUR_MS = 3_600_000
const settings: DriftSettings = {
  window_hours: 48, chunk_hours: 24, psi_threshold: 0.25, error_ratio_threshold: 1.5, page_hinkley: {delta: 0.1, lambda: 20},
  k: 2, n: 3, cooldown_hours: 72, max_model_age_days: 30,
}

/** 72 hourly rows: temperature = hour index, humidity 50 with one missing hour in the last day. */
function table(): HourlyTable {
  const t0 = Date.UTC(2026, 2, 1)
  const time = Array.from({length: 72}, (_, i) => t0 + i * HOUR_MS)
  return {
    time, collectedAt: time.map(() => null),
    columns: {temperature_2m: time.map((_, i) => i), relative_humidity_2m: time.map((_, i) => (i === 70 ? null : 50))},
  }
}

describe('drift report without a champion', () => {
  it('when there is history, then the window is the newest window_hours cut into chunks, with each variable\'s mean, min, max and missing hours', () => {
    const o = observedWindow(table(), settings, ['temperature_2m', 'relative_humidity_2m'])!
    assert.equal(o.start, '2026-03-02T00:00:00.000Z')
    assert.equal(o.end, '2026-03-04T00:00:00.000Z')
    assert.equal(o.rows, 48)
    assert.deepEqual(o.variables.temperature_2m, {mean: 47.5, min: 24, max: 71, missing: 0})
    assert.equal(o.chunks.length, 2)
    assert.deepEqual(o.chunks[1]!.variables.temperature_2m, {mean: 59.5, min: 48, max: 71, missing: 0})
    assert.deepEqual(o.chunks[1]!.variables.relative_humidity_2m, {mean: 50, min: 50, max: 50, missing: 1})
  })

  it('when there is no history, then there is no window', () => {
    assert.equal(observedWindow(undefined, settings, ['temperature_2m']), undefined)
  })

  it('when rendered, then the page shows the decision, the window, every chunk\'s values and the rules with their thresholds', () => {
    const o = observedWindow(table(), settings, ['temperature_2m', 'relative_humidity_2m'])
    const html = noChampionHtml('rps-temp', {retrain: true, trigger: 'first_model', reason: 'no champion yet'}, settings, o)
    assert.match(html, /Retrain due \(first_model\): no champion yet/)
    assert.match(html, /2026-03-02 00:00 \.\. 2026-03-04 00:00 UTC, 48 hourly rows/)
    assert.match(html, /<td>2026-03-03 00:00<\/td><td class="n">24<\/td><td class="n">59\.5 \(48\.0\.\.71\.0\)<\/td>/)
    assert.match(html, /1\.5× the model's reference MAE/)
    assert.match(html, /2 of the last 3 chunks/)
    assert.match(html, /Cooldown 72 h/)
  })
})
