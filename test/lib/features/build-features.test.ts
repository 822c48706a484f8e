import {strict as assert} from 'node:assert'

import {LABEL_COLUMN, TARGET_VALUE_COLUMN, buildFeatures, featureNames} from '../../../src/lib/features/build-features.js'
import type {FeatureConfig} from '../../../src/lib/features/config.js'
import {fillShortGaps, mergeObservations, regularize} from '../../../src/lib/features/hourly-table.js'
import type {Observations} from '../../../src/lib/raw/observations.js'

const H = 3_600_000
const T0 = Date.UTC(2026, 0, 1, 0)

const cfg: FeatureConfig = {
  target: 'temp',
  horizonHours: 2,
  variables: ['temp', 'pres'],
  maxFillHours: 2,
  lags: [1, 3],
  lagVariables: ['temp'],
  rollingWindows: [3],
  rollingVariables: ['temp'],
  diffs: {pres: [2]},
  cyclic: ['hour_of_day'],
  targetMode: 'delta',
}

function table(temp: number[], pres: number[]) {
  return {time: temp.map((_, i) => T0 + i * H), collectedAt: temp.map(() => 'x'), columns: {temp, pres}}
}

function column(df: ReturnType<typeof buildFeatures>, name: string): (number | null)[] {
  return df.getColumn(name).toArray() as (number | null)[]
}

describe('buildFeatures', () => {
  const temp = [10, 12, 11, 15, 14, 18, 20]
  const pres = [1000, 1001, 1003, 1002, 1006, 1004, 1005]
  const df = buildFeatures(table(temp, pres), cfg)

  it('when given a small series, then lags, rolling stats, differences and the label match hand computation', () => {
    assert.deepEqual(df.columns, ['time', ...featureNames(cfg), 'y', 'target_value', 'target_time', 'seasonal_value'])
    assert.deepEqual(column(df, 'temp_lag_1'), [null, 10, 12, 11, 15, 14, 18])
    assert.deepEqual(column(df, 'temp_lag_3'), [null, null, null, 10, 12, 11, 15])
    assert.deepEqual(column(df, 'temp_mean_3').slice(0, 2), [null, null])
    assertClose(column(df, 'temp_mean_3').slice(2) as number[], [11, 38 / 3, 40 / 3, 47 / 3, 52 / 3])
    // sample standard deviation of (10, 12, 11) is 1
    assertClose([column(df, 'temp_std_3')[2] as number], [1])
    assert.deepEqual(column(df, 'pres_diff_2'), [null, null, 3, 1, 3, 2, -1])
    // delta label: temp(t+2) - temp(t)
    assert.deepEqual(column(df, LABEL_COLUMN), [1, 3, 3, 3, 6, null, null])
    assert.deepEqual(column(df, TARGET_VALUE_COLUMN), [11, 15, 14, 18, 20, null, null])
    assertClose(column(df, 'hour_sin').slice(0, 2) as number[], [0, Math.sin((2 * Math.PI) / 24)])
  })

  it('when every value after t is perturbed, then no feature at t changes (no leakage)', () => {
    const n = 60
    const baseTemp = Array.from({length: n}, (_, i) => 10 + Math.sin(i / 3) * 5)
    const basePres = Array.from({length: n}, (_, i) => 1000 + Math.cos(i / 5) * 4)
    const reference = buildFeatures(table(baseTemp, basePres), cfg)
    const names = featureNames(cfg)
    for (const t of [5, 24, 40, 58]) {
      const temp = baseTemp.map((v, i) => (i > t ? v + 100 * (i - t) : v))
      const pres = basePres.map((v, i) => (i > t ? -v : v))
      const perturbed = buildFeatures(table(temp, pres), cfg)
      for (const name of names) {
        assert.equal(perturbed.getColumn(name).get(t), reference.getColumn(name).get(t), `${name} at t=${t} used a value after t`)
      }
      // the label must look ahead, which proves the perturbation reached the future
      if (t + cfg.horizonHours < n) assert.notEqual(perturbed.getColumn(LABEL_COLUMN).get(t), reference.getColumn(LABEL_COLUMN).get(t))
    }
  })

  it('when the grid is not hourly, then it refuses to build features', () => {
    assert.throws(() => buildFeatures({time: [T0, T0 + 2 * H], collectedAt: ['a', 'a'], columns: {temp: [1, 2], pres: [1, 2]}}, cfg), /regular hourly grid/)
  })
})

describe('gap handling', () => {
  it('when a gap is short, then it is interpolated linearly; when long, it stays empty and is reported', () => {
    const values: (number | null)[] = [0, null, null, 3, null, null, null, 7, null]
    const result = fillShortGaps(values, 2)
    assert.deepEqual(values, [0, 1, 2, 3, null, null, null, 7, null])
    assert.equal(result.filled, 2)
    assert.deepEqual(result.longRuns, [{start: 4, end: 6}, {start: 8, end: 8}])
  })

  it('when batches overlap, then the newest non-null observation of an hour wins and missing hours join the grid', () => {
    const obs = (time: number[], temp: (number | null)[]): Observations => ({time, rawTime: time.map(String), columns: {temp, pres: temp.map(() => 1000)}, keyColumns: ['temp', 'pres'], droppedFuture: 0})
    const rows = mergeObservations(undefined, [
      {collectedAt: '2026-01-01T05:00:00.000Z', obs: obs([T0, T0 + H, T0 + 2 * H], [1, 2, 3])},
      {collectedAt: '2026-01-01T09:00:00.000Z', obs: obs([T0 + 2 * H + 1000, T0 + 3 * H, T0 + 7 * H], [30, null, 8])},
      {collectedAt: '2026-01-01T01:00:00.000Z', obs: obs([T0 + H], [99])},
    ], ['temp', 'pres'])
    const {table: t, gaps} = regularize(rows, ['temp', 'pres'], 2)
    assert.deepEqual(t.time.map((x) => (x - T0) / H), [0, 1, 2, 3, 4, 5, 6, 7])
    // hour 1: the older (01:00) observation loses to the 05:00 one; hour 2: 09:00 wins; hour 3: newer null keeps nothing
    assert.deepEqual(t.columns.temp, [1, 2, 30, null, null, null, null, 8])
    assert.deepEqual(gaps.longGaps.map((g) => [g.variable, g.hours]), [['temp', 4], ['pres', 3]])
  })
})

function assertClose(actual: number[], expected: number[]): void {
  assert.equal(actual.length, expected.length)
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]!) < 1e-9, `index ${i}: ${a} != ${expected[i]}`))
}
