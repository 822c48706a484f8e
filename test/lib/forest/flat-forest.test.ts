import {strict as assert} from 'node:assert'
import {RandomForestRegression} from 'ml-random-forest'

import {flattenForest, predictFlat} from '../../../src/lib/forest/flat-forest.js'
import {seededRandom} from '../../../src/lib/forest/forest-core.js'
import {trainForest} from '../../../src/lib/forest/forest.js'

describe('flattened forest', () => {
  it('when a forest is flattened, then it predicts the floats ml-random-forest predicts from the same JSON', async () => {
    const random = seededRandom(7)
    const X = Array.from({length: 400}, () => Array.from({length: 6}, () => random() * 10 - 5))
    const y = X.map((r) => r[0]! * 2 - r[3]! + Math.sin(r[5]!) + random())
    const json = await trainForest(X, y, {nEstimators: 12, maxDepth: 8, minSamplesLeaf: 3, maxFeatures: 0.6, maxSamples: 200, workers: 1, seed: 3})
    const library = RandomForestRegression.load(json as never)
    const flat = flattenForest(json, 6)
    const probe = [...X.slice(0, 50), ...Array.from({length: 50}, () => Array.from({length: 6}, () => random() * 30 - 15)), [Number.NaN, 0, 0, 0, 0, 0]]
    const expected = library.predict(probe) as number[]
    probe.forEach((row, i) => assert.ok(Object.is(predictFlat(flat, row), expected[i]), `row ${i}: ${predictFlat(flat, row)} vs ${expected[i]}`))
    // a row inside a longer buffer, at an offset
    const buffer = new Float64Array([9, 9, ...probe[3]!])
    assert.ok(Object.is(predictFlat(flat, buffer, 2), expected[3]))
  })

  it('when the JSON is not a regression forest or a split lacks a child, then flattening fails with the reason', () => {
    assert.throws(() => flattenForest({name: 'RFClassifier'} as never, 3), /not a random forest regression/)
    const broken = {name: 'RFRegression', baseModel: {estimators: [{root: {splitColumn: 0, splitValue: 1, left: {distribution: 1}}}], indexes: [[0]], nEstimators: 1}}
    assert.throws(() => flattenForest(broken as never, 3), /split node without/)
  })
})
