import {type Presorted, type SplitRules, type TreeJson, buildTree} from './tree-builder.js'

export interface ForestParams {
  nEstimators: number
  maxDepth: number
  minSamplesLeaf: number
  /** Fraction of features tried: per split (sklearn rules) or per tree (ml-cart rules). */
  maxFeatures: number
  /** Rows drawn with replacement for each tree (at most the number of rows: a full bootstrap). */
  maxSamples: number
  workers: number
  seed: number
  /** Split rules of the tree builder (default sklearn: min_samples_leaf per child, features drawn per split). */
  rules?: SplitRules
}

/** Serialized ml-random-forest regression model (RandomForestRegression#toJSON). */
export interface ForestJson {
  name: 'RFRegression'
  selectionMethod: string
  baseModel: {estimators: unknown[]; indexes: number[][]; nEstimators: number; [key: string]: unknown}
}

/** mulberry32: a small, fast, seedable PRNG so training is reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** One tree and the feature columns its splitColumn indexes (ml-random-forest `indexes[tree]`). */
export interface TreePart {
  tree: TreeJson
  features: number[]
}

/** Features a tree or split tries: floor(fraction x width), at least 1 (as both libraries count). */
export function featureCount(width: number, maxFeatures: number): number {
  return maxFeatures >= 1 ? width : Math.max(1, Math.floor(width * maxFeatures))
}

/**
 * Trains one tree on its own bootstrap sample of min(maxSamples, rows) draws (weighted by
 * `cumulativeWeights` when given). Drawing a fresh random sample per tree keeps the ensemble
 * diverse; ml-random-forest's own `maxSamples` takes the first rows, which on time-ordered data
 * would be the oldest ones. Under ml-cart rules the tree sees one random feature subset (as
 * ml-random-forest bags features per tree); under sklearn rules it sees every feature and each
 * split tries its own random subset.
 */
export function trainTree(data: Presorted, params: ForestParams, treeSeed: number, cumulativeWeights?: Float64Array): TreePart {
  const random = seededRandom(treeSeed)
  const n = data.rows
  const draws = Math.min(params.maxSamples, n)
  const counts = new Int32Array(n)
  for (let i = 0; i < draws; i++) counts[cumulativeWeights ? weightedIndex(cumulativeWeights, random()) : Math.floor(random() * n)]!++
  const width = data.columns.length
  const tried = featureCount(width, params.maxFeatures)
  const rules = params.rules ?? 'sklearn'
  let features = Array.from({length: width}, (_, f) => f)
  if (rules === 'ml-cart' && tried < width) {
    for (let i = 0; i < tried; i++) {
      const j = i + Math.floor(random() * (width - i))
      ;[features[i], features[j]] = [features[j]!, features[i]!]
    }
    features = features.slice(0, tried)
  }
  const tree = buildTree(data, counts, features, {maxDepth: params.maxDepth, minSamplesLeaf: params.minSamplesLeaf, featuresPerSplit: tried, rules}, random)
  return {tree, features}
}

/** The ml-random-forest model of the trees, in the JSON RandomForestRegression.load reads. */
export function forestJson(parts: TreePart[], params: ForestParams): ForestJson {
  if (parts.length === 0) throw new Error('no trees')
  return {
    name: 'RFRegression',
    selectionMethod: 'mean',
    baseModel: {
      indexes: parts.map((p) => p.features),
      n: parts[0]!.features.length,
      replacement: false,
      maxFeatures: params.maxFeatures,
      nEstimators: parts.length,
      treeOptions: {maxDepth: params.maxDepth, minNumSamples: params.minSamplesLeaf},
      isClassifier: false,
      seed: params.seed,
      estimators: parts.map((p) => p.tree),
      useSampleBagging: false,
    },
  }
}

/** Running sums of row weights, normalized to end at 1: the bootstrap draws row i with probability w_i / Σw. */
export function cumulativeWeights(weights: number[]): Float64Array {
  const out = new Float64Array(weights.length)
  let total = 0
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i]!
    if (!(w >= 0) || !Number.isFinite(w)) throw new Error(`row weight ${i} is ${w}: weights must be finite and >= 0`)
    total += w
    out[i] = total
  }
  if (!(total > 0)) throw new Error('row weights sum to 0')
  for (let i = 0; i < out.length; i++) out[i]! /= total
  return out
}

/** The first index whose cumulative weight exceeds u (u in [0, 1)). */
export function weightedIndex(cumulative: Float64Array, u: number): number {
  let lo = 0
  let hi = cumulative.length - 1
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (cumulative[mid]! > u) hi = mid
    else lo = mid + 1
  }
  return lo
}

/**
 * Recency weights for rows at `times`: 0.5^(age / halfLife), age measured from the newest row.
 * A half-life of 0 (or less) means equal weights.
 */
export function recencyWeights(times: number[], halfLifeDays: number): number[] | undefined {
  if (!(halfLifeDays > 0) || times.length === 0) return undefined
  const newest = times.at(-1)!
  const halfLifeMs = halfLifeDays * 86_400_000
  return times.map((t) => 0.5 ** ((newest - t) / halfLifeMs))
}

export function treeSeeds(params: ForestParams): number[] {
  const random = seededRandom(params.seed)
  return Array.from({length: params.nEstimators}, () => Math.floor(random() * 2 ** 31))
}
