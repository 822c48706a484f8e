import {strict as assert} from 'node:assert'

import {liveHalfWidths} from '../../../src/lib/simulate/horizons.js'

const HOUR_MS = 3_600_000
const aci = {gamma: 0.05, window: 48, minResiduals: 24}

/** `n` hourly rows whose forecast misses by `miss(i)`; every row issued by champion `champion(i)`. */
function series(n: number, miss: (i: number) => number, champion: (i: number) => number = () => 0) {
  const time = Array.from({length: n}, (_, i) => i * HOUR_MS)
  const actual = time.map(() => 10)
  const predicted = Float64Array.from(time, (_, i) => 10 + miss(i))
  return {time, actual, predicted, champions: Int32Array.from(time, (_, i) => champion(i)), calibrated: new Float64Array(n).fill(1)}
}

describe('simulate: live bands replayed as rps serve keeps them', () => {
  it('when fewer than 24 residuals are observed, then the band is the calibrated one; a residual counts only once its target hour is observed', () => {
    const s = series(40, () => 2)
    const widths = liveHalfWidths(s.time, s.predicted, s.actual, s.champions, s.calibrated, 6, 0.8, aci)
    // The forecast issued at hour i is scored at i + 6: at hour 28 rows 0..22 are scored (23 residuals), at 29 the 24th.
    assert.deepEqual([...widths.slice(0, 29)], Array(29).fill(1))
    assert.equal(widths[29], 2, 'from 24 residuals of 2 on, the band is 2')
  })

  it('when the errors double, then the live band widens and its coverage comes back toward the level', () => {
    const n = 600
    const s = series(n, (i) => (i < 300 ? 1 : 2) * ((i % 5) / 4))
    const widths = liveHalfWidths(s.time, s.predicted, s.actual, s.champions, s.calibrated, 1, 0.8, aci)
    assert.ok(widths[550]! > widths[290]! * 1.5, `${widths[290]} -> ${widths[550]}`)
    let inside = 0
    for (let i = 400; i < n; i++) if (Math.abs(s.predicted[i]! - s.actual[i]!) <= widths[i]!) inside++
    assert.ok(Math.abs(inside / 200 - 0.8) <= 0.1, `coverage ${inside / 200}`)
  })

  it('when a new champion takes over, then its band starts again from its calibrated width; rows before serving get none', () => {
    const s = series(100, () => 3, (i) => (i < 10 ? -1 : i < 60 ? 0 : 1))
    const widths = liveHalfWidths(s.time, s.predicted, s.actual, s.champions, s.calibrated, 1, 0.8, aci)
    assert.ok(Number.isNaN(widths[5]!))
    assert.equal(widths[50], 3)
    assert.deepEqual([...widths.slice(60, 84)], Array(24).fill(1))
    assert.equal(widths[84], 3)
  })
})
