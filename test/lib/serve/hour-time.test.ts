import {strict as assert} from 'node:assert'

import {parseHourTime} from '../../../src/lib/serve/hour-time.js'

describe('parseHourTime', () => {
  it('when given a whole UTC hour, then its ms; otherwise NaN (no calendar roll-over, no T24, no extended years)', () => {
    assert.equal(parseHourTime('2026-03-01T12:00:00Z'), Date.UTC(2026, 2, 1, 12))
    assert.equal(parseHourTime('2024-02-29T23:00:00Z'), Date.UTC(2024, 1, 29, 23))
    assert.equal(parseHourTime('0026-01-01T00:00:00Z'), new Date('0026-01-01T00:00:00Z').getTime())
    for (const bad of ['2026-02-29T00:00:00Z', '2026-02-30T00:00:00Z', '2026-01-01T24:00:00Z', '2026-13-01T00:00:00Z', '2026-01-01T00:30:00Z', '2026-01-01T00:00:00.000Z',
      '2026-01-01T00:00:00+00:00', '+100000-01-01T00:00:00Z', '2026-01-01 00:00:00Z', '2026-1-01T00:00:00Z', '', 5, null]) {
      assert.ok(Number.isNaN(parseHourTime(bad)), String(bad))
    }
  })
})
