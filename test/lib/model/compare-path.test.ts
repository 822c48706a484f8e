import {strict as assert} from 'node:assert'

import {judgePath} from '../../../src/lib/model/compare.js'
import type {ModelRows} from '../../../src/lib/model/dataset.js'
import type {ForestJson} from '../../../src/lib/forest/forest-core.js'
import {calibrate} from '../../../src/lib/stats/intervals.js'
import {type LoadedModel, type ModelMeta, modelFromForest} from '../../../src/lib/model/model-dir.js'

const leaf = (value: number) => ({name: 'RFRegression', selectionMethod: 'mean', baseModel: {estimators: [{root: {distribution: value}}], indexes: [[0]], nEstimators: 1}}) as unknown as ForestJson

/** A model whose +h forecast is current + bias[h]; bands ± width[h], whose honest holdout coverage was covered[h] on `rows` rows. */
function model(bias: Record<number, number>, width: Record<number, number> = {}, covered: Record<number, number> = {}, rows = 336): LoadedModel {
  const horizons = Object.keys(bias).map(Number).sort((a, b) => a - b)
  const longest = horizons.at(-1)!
  const meta = {format: 'rps-forest/1', name: 'm', target: 't', horizonHours: longest, horizons, targetMode: 'delta', features: ['t']} as unknown as ModelMeta
  if (Object.keys(width).length) {
    meta.calibration = {
      ...calibrate(new Map(), [0.8]), rows,
      halfWidth: Object.fromEntries(horizons.map((h) => [String(h), {'0.8': width[h]!}])),
      holdoutCoverage: Object.fromEntries(horizons.map((h) => [String(h), {'0.8': covered[h] ?? 0.8}])),
    }
  }
  return modelFromForest('', meta, leaf(bias[longest]!), new Map(horizons.filter((h) => h !== longest).map((h) => [h, leaf(bias[h]!)])))
}

/** 100 rows where the truth at +h is current + 0 (so a model's error is its bias), for horizons 1..3. */
function rows(): ModelRows {
  const n = 100
  const current = Array.from({length: n}, (_, i) => i % 7)
  const values = () => ({y: current.map(() => 0), actual: [...current], seasonal: [...current]})
  return {time: current.map((_, i) => i), X: current.map((c) => [c]), current, ...values(), shorter: new Map([[1, values()], [2, values()]])}
}

const rules = {toleranceRmse: 0, horizonToleranceRmse: 0.1, coverageTolerance: 0.15}

describe('compare: the whole-path gate', () => {
  it('when the challenger is better on the mean and on every horizon, then it wins', () => {
    const r = rows()
    const path = judgePath(model({1: 0.1, 2: 0.2, 3: 0.3}), model({1: 0.2, 2: 0.3, 3: 0.4}), r, r, rules)
    assert.deepEqual(path.failures, [])
    assert.deepEqual(path.horizons, [1, 2, 3])
    assert.deepEqual([path.challengerMeanRmse, path.championMeanRmse], [0.2, 0.3])
  })

  it('when one horizon is worse by more than the horizon tolerance, then it loses even though the mean is better', () => {
    const r = rows()
    const path = judgePath(model({1: 0.35, 2: 0, 3: 0}), model({1: 0.2, 2: 0.3, 3: 0.4}), r, r, rules)
    assert.ok(path.challengerMeanRmse < path.championMeanRmse!)
    assert.deepEqual(path.failures, ['+1 h RMSE 0.350 vs 0.200 (horizon tolerance 0.1)'])
  })

  it('when the mean is worse, then it loses and says so first', () => {
    const r = rows()
    const path = judgePath(model({1: 0.25, 2: 0.35, 3: 0.45}), model({1: 0.2, 2: 0.3, 3: 0.4}), r, r, rules)
    assert.match(path.failures[0]!, /^mean RMSE over \+1,2,3 h 0\.350 vs 0\.300 \(tolerance 0\)/)
  })

  it('when a band covered far less than its level on its honest holdout, then it loses; a band that covered more does not', () => {
    const r = rows()
    const narrow = judgePath(model({1: 0.1, 2: 0.1, 3: 0.1}, {1: 0.05, 2: 1, 3: 1}, {1: 0.6, 2: 1, 3: 0.7}), model({1: 0.2, 2: 0.3, 3: 0.4}), r, r, rules)
    assert.deepEqual(narrow.failures, ['+1 h 0.8 band covered 0.600 of its holdout (< 0.8 - 0.15)'])
    assert.deepEqual([narrow.challengerCoverage['1'], narrow.challengerCoverage['2']], [{'0.8': 0}, {'0.8': 1}], 'coverage on the compared rows is reported')
    assert.equal(narrow.coverageGated, true)
  })

  it('when a change made the champion\'s bands as short on the same rows, then the challenger is held to the champion\'s coverage, not its level', () => {
    // The truth steps down by 1 on the second half: bands calibrated on the first half miss for both models.
    const r = rows()
    const stepped = (a: number[]) => a.map((v, i) => (i >= 50 ? v - 1 : v))
    const changed: ModelRows = {...r, actual: stepped(r.actual), shorter: new Map([...r.shorter!].map(([h, v]) => [h, {...v, actual: stepped(v.actual)}]))}
    const challenger = model({1: 0.1, 2: 0.1, 3: 0.1}, {1: 1, 2: 1, 3: 1}, {1: 0.6, 2: 0.6, 3: 0.6})
    const path = judgePath(challenger, model({1: 0.2, 2: 0.3, 3: 0.4}), changed, changed, rules)
    assert.deepEqual(path.championHoldoutCoverage['1'], {'0.8': 0})
    assert.deepEqual(path.failures, [])
    const steady = judgePath(challenger, model({1: 0.2, 2: 0.3, 3: 0.4}), r, r, rules)
    assert.deepEqual(steady.championHoldoutCoverage['1'], {'0.8': 1})
    assert.equal(steady.failures.length, 3, 'against a champion whose bands held, 0.6 is too little')
  })

  it('when the holdout was too short to judge a band, then coverage is reported, not gated', () => {
    const r = rows()
    const short = judgePath(model({1: 0.1, 2: 0.1, 3: 0.1}, {1: 0.05, 2: 1, 3: 1}, {1: 0.3}, 72), model({1: 0.2, 2: 0.3, 3: 0.4}), r, r, rules)
    assert.deepEqual([short.failures, short.coverageGated], [[], false])
  })

  it('when a larger overall tolerance is given, then no single horizon is held to less', () => {
    const r = rows()
    const path = judgePath(model({1: 0.5, 2: 0.3, 3: 0.4}), model({1: 0.2, 2: 0.3, 3: 0.4}), r, r, {...rules, toleranceRmse: 1})
    assert.deepEqual(path.failures, [])
  })

  it('when the champion forecasts fewer horizons (an older model), then only the common ones are compared', () => {
    const r = rows()
    const path = judgePath(model({1: 0.5, 2: 0.5, 3: 0.1}), model({3: 0.2}), r, r, rules)
    assert.deepEqual([path.horizons, path.failures], [[3], []])
  })
})
