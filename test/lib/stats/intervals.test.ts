import {strict as assert} from 'node:assert'

import {DEFAULT_ACI, adaptiveBand, calibrate, conformalHalfWidth, coverage} from '../../../src/lib/stats/intervals.js'

describe('prediction intervals (split conformal)', () => {
  it('when calibrated on n residuals, then the half-width is the ceil((n+1)·level)-th smallest', () => {
    const residuals = Array.from({length: 19}, (_, i) => 19 - i) // 19..1, unsorted on purpose
    assert.equal(conformalHalfWidth(residuals, 0.8), 16) // ceil(20 * 0.8) = 16
    assert.equal(conformalHalfWidth(residuals, 0.95), 19) // ceil(20 * 0.95) = 19
    assert.equal(conformalHalfWidth([3, 1], 0.95), 3, 'too few rows for the rank: the largest residual')
    assert.equal(conformalHalfWidth([], 0.8), Number.POSITIVE_INFINITY)
  })

  it('when residuals are exchangeable, then bands from one half cover about their level of the other', () => {
    let seed = 7
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31)
    const residuals = Array.from({length: 4000}, () => Math.abs(random() * 2 - 1 + random() * 2 - 1))
    const calibration = calibrate(new Map([[1, residuals], [6, residuals.map((r) => 2 * r)]]), [0.8, 0.95])
    for (const h of ['1', '6']) {
      assert.ok(Math.abs(calibration.holdoutCoverage[h]!['0.8']! - 0.8) < 0.03, `+${h} h 80 %: ${calibration.holdoutCoverage[h]!['0.8']}`)
      assert.ok(Math.abs(calibration.holdoutCoverage[h]!['0.95']! - 0.95) < 0.02, `+${h} h 95 %: ${calibration.holdoutCoverage[h]!['0.95']}`)
    }
    assert.ok(Math.abs(calibration.halfWidth['6']!['0.8']! - 2 * calibration.halfWidth['1']!['0.8']!) < 1e-12, 'a horizon twice as wrong gets twice the band')
    assert.equal(coverage([0.5, 1, 2], 1), 2 / 3)
  })
})

describe('prediction intervals kept calibrated online (adaptive conformal inference)', () => {
  it('when the errors double after calibration, then the live band widens and its coverage returns near the level', () => {
    let seed = 11
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31)
    const calibrated = conformalHalfWidth(Array.from({length: 2000}, () => Math.abs(random() - 0.5)), 0.8)
    const live = Array.from({length: 3000}, () => 2 * Math.abs(random() - 0.5))
    const band = adaptiveBand(live, 0.8, calibrated, {gamma: 0.005, window: 336, minResiduals: 24})
    assert.ok(band.halfWidth > 1.7 * calibrated, `live half-width ${band.halfWidth} vs calibrated ${calibrated}`)
    assert.ok(Math.abs(band.coverage! - 0.8) < 0.03, `coverage ${band.coverage}`)
    assert.ok(coverage(live, calibrated) < 0.5, 'the static band would have covered well under half')
    assert.equal(band.n, 3000)
  })

  it('when there are too few live errors, then the calibrated half-width is kept', () => {
    const band = adaptiveBand([5, 5, 5], 0.8, 1, DEFAULT_ACI)
    assert.deepEqual([band.halfWidth, band.coverage, band.n], [1, 0, 3])
    assert.ok(band.alpha < 0.2, 'every miss lowers alpha (a wider next band)')
  })
})
