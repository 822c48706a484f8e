import {strict as assert} from 'node:assert'

import {calibrate, conformalHalfWidth, coverage} from '../../../src/lib/model/intervals.js'

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
