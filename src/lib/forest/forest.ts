import {RandomForestRegression} from 'ml-random-forest'
import {Worker} from 'node:worker_threads'

import {type ForestJson, type ForestParams, type TreePart, cumulativeWeights, forestJson, trainTree, treeSeeds} from './forest-core.js'
import {type Presorted, presort} from './tree-builder.js'

export type {ForestJson, ForestParams} from './forest-core.js'

/** One tree to grow: which label vector and which of the forest's seeds. */
export interface TreeJob {
  label: number
  seed: number
}

/** What a training worker receives: the presorted features once, every label vector, and its share of the trees. */
export interface WorkerJob {
  data: Omit<Presorted, 'y'>
  labels: Float64Array[]
  params: ForestParams
  jobs: TreeJob[]
  cumulativeWeights?: Float64Array
}

/**
 * Trains the forest (src/lib/forest/tree-builder.ts), spreading trees over `workers` threads. The result depends only on the data
 * and the seed, not on the number of workers (each tree has its own seed). With `weights`, each
 * tree's bootstrap draws rows in proportion to their weight (e.g. recency weights).
 */
export async function trainForest(X: number[][], y: number[], params: ForestParams, onTree?: (done: number) => void, weights?: number[]): Promise<ForestJson> {
  return (await trainForests(X, [y], params, onTree, weights))[0]!
}

/**
 * One forest per label vector on the same rows (the direct strategy's horizons): each forest is
 * exactly what `trainForest` would give for its labels, but the rows are sorted once and the
 * worker threads start once for all of them, which for light forests costs more than the trees.
 */
export async function trainForests(X: number[][], labels: number[][], params: ForestParams, onTree?: (done: number) => void, weights?: number[]): Promise<ForestJson[]> {
  if (X.length === 0) throw new Error('no training rows')
  if (labels.length === 0) return []
  if (weights && weights.length !== X.length) throw new Error(`${weights.length} weights for ${X.length} rows`)
  for (const y of labels) if (y.length !== X.length) throw new Error(`${y.length} labels for ${X.length} rows`)
  const cumulative = weights ? cumulativeWeights(weights) : undefined
  const seeds = treeSeeds(params)
  let done = 0
  const tick = () => onTree?.(++done)
  // Sorted once here; workers get typed-array copies (a memcpy, unlike nested arrays).
  const {y: first, ...sorted} = presort(X, labels[0]!)
  const ys = labels.map((y, i) => (i === 0 ? first : Float64Array.from(y)))
  const jobs: TreeJob[] = ys.flatMap((_, label) => seeds.map((seed) => ({label, seed})))
  let parts: TreePart[]
  if (params.workers <= 1) {
    parts = jobs.map((j) => {
      const t = trainTree({...sorted, y: ys[j.label]!}, params, j.seed, cumulative)
      tick()
      return t
    })
  } else {
    const chunks: number[][] = Array.from({length: Math.min(params.workers, jobs.length)}, () => [])
    jobs.forEach((_, i) => chunks[i % chunks.length]!.push(i))
    const results = await Promise.all(chunks.map((chunk) => runWorker({data: sorted, labels: ys, params, jobs: chunk.map((i) => jobs[i]!), cumulativeWeights: cumulative}, tick)))
    // Trees back in job order, so the model is identical whatever the worker count.
    parts = new Array(jobs.length)
    chunks.forEach((chunk, w) => chunk.forEach((jobIndex, i) => (parts[jobIndex] = results[w]![i]!)))
  }
  return ys.map((_, label) => forestJson(parts.slice(label * seeds.length, (label + 1) * seeds.length), params))
}

function runWorker(job: WorkerJob, tick: () => void): Promise<TreePart[]> {
  return new Promise<TreePart[]>((resolve, reject) => {
    const worker = new Worker(new URL('./forest-worker.js', import.meta.url), {workerData: job})
    worker.on('message', (m: {type: string; trees?: TreePart[]}) => {
      if (m.type === 'tree') tick()
      else if (m.type === 'done') resolve(m.trees!)
    })
    worker.on('error', reject)
    worker.on('exit', (code) => {
      if (code !== 0) reject(new Error(`training worker exited with code ${code}`))
    })
  })
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
