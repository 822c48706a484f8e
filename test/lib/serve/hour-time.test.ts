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

  it('when consecutive calls share a day, then each hour is still checked and parsed on its own', () => {
    const day = Date.UTC(2026, 2, 1)
    for (let h = 0; h < 24; h++) assert.equal(parseHourTime(`2026-03-01T${String(h).padStart(2, '0')}:00:00Z`), day + h * 3_600_000)
    // The remembered day must not let a malformed hour or a new day through.
    for (const bad of ['2026-03-01T24:00:00Z', '2026-03-01T1x:00:00Z', '2026-03-01T-1:00:00Z', '2026-03-01T05:00:01Z']) assert.ok(Number.isNaN(parseHourTime(bad)), bad)
    assert.equal(parseHourTime('2026-03-02T00:00:00Z'), day + 24 * 3_600_000)
    assert.ok(Number.isNaN(parseHourTime('2026-02-30T00:00:00Z')))
    assert.equal(parseHourTime('2026-03-02T01:00:00Z'), day + 25 * 3_600_000)
  })
})
