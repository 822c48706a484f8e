import {RandomForestRegression} from 'ml-random-forest'
import {Worker} from 'node:worker_threads'

import {type ForestJson, type ForestParams, type TreePart, cumulativeWeights, forestJson, trainTree, treeSeeds} from './forest-core.js'
import {presort} from './tree-builder.js'

export type {ForestJson, ForestParams} from './forest-core.js'

/**
 * Trains the forest (src/lib/model/tree-builder.ts), spreading trees over `workers` threads. The result depends only on the data
 * and the seed, not on the number of workers (each tree has its own seed). With `weights`, each
 * tree's bootstrap draws rows in proportion to their weight (e.g. recency weights).
 */
export async function trainForest(X: number[][], y: number[], params: ForestParams, onTree?: (done: number) => void, weights?: number[]): Promise<ForestJson> {
  if (X.length === 0) throw new Error('no training rows')
  if (weights && weights.length !== X.length) throw new Error(`${weights.length} weights for ${X.length} rows`)
  const cumulative = weights ? cumulativeWeights(weights) : undefined
  const seeds = treeSeeds(params)
  let done = 0
  const tick = () => onTree?.(++done)
  // Sorted once here; workers get typed-array copies (a memcpy, unlike nested arrays).
  const data = presort(X, y)
  if (params.workers <= 1) {
    const parts = seeds.map((s) => {
      const t = trainTree(data, params, s, cumulative)
      tick()
      return t
    })
    return forestJson(parts, params)
  }
  const chunks: number[][] = Array.from({length: Math.min(params.workers, seeds.length)}, () => [])
  seeds.forEach((_, i) => chunks[i % chunks.length]!.push(i))
  const results = await Promise.all(chunks.map((chunk) => new Promise<TreePart[]>((resolve, reject) => {
    const worker = new Worker(new URL('./forest-worker.js', import.meta.url), {workerData: {data, params, seeds: chunk.map((i) => seeds[i]!), cumulativeWeights: cumulative}})
    worker.on('message', (m: {type: string; trees?: TreePart[]}) => {
      if (m.type === 'tree') tick()
      else if (m.type === 'done') resolve(m.trees!)
    })
    worker.on('error', reject)
    worker.on('exit', (code) => {
      if (code !== 0) reject(new Error(`training worker exited with code ${code}`))
    })
  })))
  // Put trees back in seed order so the model is identical whatever the worker count.
  const ordered: TreePart[] = new Array(seeds.length)
  chunks.forEach((chunk, w) => chunk.forEach((treeIndex, i) => (ordered[treeIndex] = results[w]![i]!)))
  return forestJson(ordered, params)
}

// ml-random-forest only loads and predicts here; training is tree-builder.ts, so the library's
// out-of-bag step (which throws 'input must not be empty' with few trees unless noOOB) never runs,
// and a reloaded model has noOOB set by the library itself.
export function loadForest(json: ForestJson): RandomForestRegression {
  return RandomForestRegression.load(json as never)
}

export function predictForest(forest: RandomForestRegression, X: number[][]): number[] {
  return X.length === 0 ? [] : (forest.predict(X) as number[])
}
