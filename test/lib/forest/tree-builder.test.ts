import {strict as assert} from 'node:assert'

import {RandomForestRegression} from 'ml-random-forest'

import {type ForestParams, forestJson, seededRandom} from '../../../src/lib/forest/forest-core.js'
import {loadForest, predictForest, trainForest, trainForests} from '../../../src/lib/forest/forest.js'
import {type TreeJson, type TreeNodeJson, argsort, buildTree, presort} from '../../../src/lib/forest/tree-builder.js'

/** Continuous features (no ties) and a nonlinear noisy label: ml-cart and the builder see the same candidate splits. */
function dataset(rows: number, width: number, seed: number): {X: number[][]; y: number[]} {
  const random = seededRandom(seed)
  const X = Array.from({length: rows}, () => Array.from({length: width}, () => random() * 10 - 5))
  const y = X.map((r) => Math.sin(r[0]!) * 3 + r[1]! * r[2]! * 0.5 + (r[3]! > 1 ? 2 : 0) + random())
  return {X, y}
}

function bootstrap(rows: number, draws: number, seed: number): Int32Array {
  const random = seededRandom(seed)
  const counts = new Int32Array(rows)
  for (let i = 0; i < draws; i++) counts[Math.floor(random() * rows)]!++
  return counts
}

const PARAMS: ForestParams = {nEstimators: 1, maxDepth: 7, minSamplesLeaf: 5, maxFeatures: 0.75, maxSamples: 500, workers: 1, seed: 1}

/** A one-tree ml-random-forest model of the tree, loaded back through RandomForestRegression.load. */
function loadTree(tree: TreeJson, features: number[]): RandomForestRegression {
  return RandomForestRegression.load(JSON.parse(JSON.stringify(forestJson([{tree, features}], PARAMS))))
}

function depthAndLeaves(node: TreeNodeJson, depth = 0): {depth: number; leaves: number} {
  if ('distribution' in node) return {depth, leaves: 1}
  const l = depthAndLeaves(node.left, depth + 1)
  const r = depthAndLeaves(node.right, depth + 1)
  return {depth: Math.max(l.depth, r.depth), leaves: l.leaves + r.leaves}
}

describe('presorted tree builder', () => {
  it('when given ml-cart rules and the same sample and features, then it predicts like ml-cart (max |diff| < 1e-9)', () => {
    const {X, y} = dataset(500, 8, 1)
    const test = dataset(300, 8, 2).X
    const counts = bootstrap(X.length, 500, 3)
    // ml-cart through ml-random-forest: one tree on the same bootstrap sample (duplicates as copies), its own feature subset
    const sampleX: number[][] = []
    const sampleY: number[] = []
    X.forEach((row, i) => {
      for (let c = 0; c < counts[i]!; c++) {
        sampleX.push(row)
        sampleY.push(y[i]!)
      }
    })
    const cart = new RandomForestRegression({
      nEstimators: 1, maxFeatures: PARAMS.maxFeatures, replacement: false, seed: 5, useSampleBagging: false, noOOB: true,
      treeOptions: {maxDepth: PARAMS.maxDepth, minNumSamples: PARAMS.minSamplesLeaf},
    })
    cart.train(sampleX, sampleY)
    const features = (cart.toJSON() as unknown as {baseModel: {indexes: number[][]}}).baseModel.indexes[0]!
    assert.equal(features.length, 6)
    const built = buildTree(presort(X, y), counts, features, {maxDepth: PARAMS.maxDepth, minSamplesLeaf: PARAMS.minSamplesLeaf, featuresPerSplit: features.length, rules: 'ml-cart'}, seededRandom(4))
    const expected = cart.predict(test) as number[]
    const actual = loadTree(built, features).predict(test) as number[]
    const worst = Math.max(...expected.map((e, i) => Math.abs(e - actual[i]!)))
    assert.ok(worst < 1e-9, `max |ml-cart - builder| = ${worst}`)
    const shape = depthAndLeaves(built.root)
    assert.ok(shape.depth === PARAMS.maxDepth && shape.leaves > 40, `a real tree: depth ${shape.depth}, ${shape.leaves} leaves`)
  })

  it('when given sklearn rules, then every leaf keeps >= min_samples_leaf distinct rows and depth <= max_depth', () => {
    const {X, y} = dataset(800, 6, 5)
    const counts = bootstrap(X.length, 800, 6)
    const tree = buildTree(presort(X, y), counts, [0, 1, 2, 3, 4, 5], {maxDepth: 9, minSamplesLeaf: 7, featuresPerSplit: 3, rules: 'sklearn'}, seededRandom(7))
    const loaded = loadTree(tree, [0, 1, 2, 3, 4, 5])
    const leafRows = new Map<number, number>()
    X.forEach((row, i) => {
      if (counts[i]! === 0) return
      const key = loaded.predict([row])[0] as number
      leafRows.set(key, (leafRows.get(key) ?? 0) + 1)
    })
    assert.ok(leafRows.size > 20, `${leafRows.size} leaves`)
    for (const [value, n] of leafRows) assert.ok(n >= 7, `leaf ${value} has ${n} distinct rows`)
    assert.ok(depthAndLeaves(tree.root).depth <= 9)
  })

  it('when a forest is trained, then ml-random-forest loads it, it beats the mean, and the worker count does not change it', async () => {
    const {X, y} = dataset(1500, 10, 8)
    const test = dataset(400, 10, 9)
    const params = {nEstimators: 8, maxDepth: 10, minSamplesLeaf: 3, maxFeatures: 0.6, maxSamples: 100_000, workers: 1, seed: 11}
    const one = await trainForest(X, y, params)
    const two = await trainForest(X, y, {...params, workers: 2})
    assert.deepEqual(JSON.parse(JSON.stringify(two)), JSON.parse(JSON.stringify(one)))
    const model = RandomForestRegression.load(JSON.parse(JSON.stringify(one)))
    const predicted = model.predict(test.X) as number[]
    assert.deepEqual(predicted, predictForest(loadForest(one), test.X))
    const mean = y.reduce((a, b) => a + b, 0) / y.length
    const mse = (p: number[]) => p.reduce((a, v, i) => a + (v - test.y[i]!) ** 2, 0) / p.length
    assert.ok(mse(predicted) < 0.5 * mse(test.y.map(() => mean)), `forest MSE ${mse(predicted)} vs mean ${mse(test.y.map(() => mean))}`)
  })

  it('when several label vectors share the rows, then each forest is the one trainForest gives for its labels, whatever the worker count', async () => {
    const {X, y} = dataset(600, 6, 12)
    const other = y.map((v, i) => v * 0.5 - X[i]![2]!)
    const params = {nEstimators: 5, maxDepth: 8, minSamplesLeaf: 3, maxFeatures: 0.6, maxSamples: 400, workers: 1, seed: 4}
    const json = (x: unknown) => JSON.parse(JSON.stringify(x)) as unknown
    const separate = [await trainForest(X, y, params), await trainForest(X, other, params)]
    let ticks = 0
    const together = await trainForests(X, [y, other], {...params, workers: 2}, () => ticks++)
    assert.deepEqual(json(together), json(separate))
    assert.equal(ticks, 10, 'one progress tick per tree of every forest')
    assert.notDeepEqual(json(together[0]), json(together[1]))
    assert.deepEqual(json(await trainForests(X, [y, other], params)), json(separate))
    await assert.rejects(trainForests(X, [y, other.slice(1)], params), /599 labels for 600 rows/)
  })

  it('when values tie, then argsort keeps them in row order', () => {
    assert.deepEqual([...argsort(Float64Array.from([3, -1, 3, 0, -0, 2, -1]))], [1, 6, 3, 4, 5, 0, 2])
  })

  it('when a feature is not finite, then presort refuses it', () => {
    assert.throws(() => presort([[1, Number.NaN]], [1]), /feature 1 of row 0 is NaN/)
  })
})
