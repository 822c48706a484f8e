import {strict as assert} from 'node:assert'

import {type ModelRows, timeSplit} from '../../../src/lib/model/dataset.js'
import {cumulativeWeights, recencyWeights, seededRandom, weightedIndex} from '../../../src/lib/forest/forest-core.js'

const HOUR_MS = 3_600_000
const DAY_MS = 86_400_000

function hourlyRows(days: number): ModelRows {
  const time = Array.from({length: days * 24}, (_, i) => Date.UTC(2025, 0, 1) + i * HOUR_MS)
  const zeros = time.map(() => 0)
  return {time, X: time.map(() => [0]), y: zeros, current: zeros, actual: zeros, seasonal: zeros}
}

describe('training window and recency weights', () => {
  it('when train_window_days is set, then training rows are only the newest days before validation', () => {
    const rows = hourlyRows(100)
    const all = timeSplit(rows, 14, 14, 6)
    const windowed = timeSplit(rows, 14, 14, 6, 30)
    const validationStart = Date.parse(windowed.boundaries.validationStart)
    assert.equal(windowed.train.time[0], validationStart - 30 * DAY_MS)
    assert.equal(windowed.train.time.at(-1), all.train.time.at(-1))
    // 30 days minus the 6 purged hours whose label reaches into validation
    assert.equal(windowed.train.time.length, 30 * 24 - 6)
    assert.equal(all.train.time.length, (100 - 28) * 24 - 6)
    assert.deepEqual(windowed.holdout.time, all.holdout.time)
  })

  it('when weights are given, then the bootstrap draws rows in proportion to them', () => {
    const cumulative = cumulativeWeights([1, 0, 3])
    assert.deepEqual([...cumulative], [0.25, 0.25, 1])
    assert.equal(weightedIndex(cumulative, 0), 0)
    assert.equal(weightedIndex(cumulative, 0.2499), 0)
    assert.equal(weightedIndex(cumulative, 0.25), 2)
    assert.equal(weightedIndex(cumulative, 0.999), 2)
    const random = seededRandom(7)
    const counts = [0, 0, 0]
    for (let i = 0; i < 40_000; i++) counts[weightedIndex(cumulative, random())]!++
    assert.equal(counts[1], 0)
    assert.ok(Math.abs(counts[2]! / 40_000 - 0.75) < 0.01, `share of row 2: ${counts[2]! / 40_000}`)
    assert.throws(() => cumulativeWeights([0, 0]), /sum to 0/)
    assert.throws(() => cumulativeWeights([1, Number.NaN]), /finite/)
  })

  it('when a half-life is set, then a row one half-life older weighs half as much; 0 means no weights', () => {
    const times = [0, 7 * DAY_MS, 14 * DAY_MS]
    assert.deepEqual(recencyWeights(times, 7), [0.25, 0.5, 1])
    assert.equal(recencyWeights(times, 0), undefined)
  })
})
