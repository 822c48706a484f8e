/**
 * A regression-tree builder with presorted split search that emits ml-cart's `DTRegression` JSON,
 * so the forest it builds is an ordinary ml-random-forest model (`RandomForestRegression.load`).
 *
 * ml-cart tries every split value of every feature and re-splits the rows for each one: quadratic in
 * rows per node. Here every feature is sorted once per forest; a tree keeps, per feature, its rows in
 * that order and partitions them stably at each split, so one pass over a node's rows scores every
 * split of a feature (running sums): O(rows x features) per tree level.
 *
 * Bootstrap duplicates are carried as integer counts (weights) instead of copies; a node's size,
 * sums and leaf mean count them, exactly as ml-cart sees the duplicated rows.
 */

/** How a split is chosen and when a node stops. */
export type SplitRules = 'ml-cart' | 'sklearn'

export interface TreeOptions {
  maxDepth: number
  /**
   * ml-cart: a node with <= this many (bootstrap) rows is a leaf (leaves may be smaller);
   * sklearn: every child keeps >= this many distinct rows (min_samples_leaf).
   */
  minSamplesLeaf: number
  /** Features tried per node (sklearn rules; each node draws its own) or per tree (ml-cart rules). */
  featuresPerSplit: number
  rules: SplitRules
}

/** ml-cart's serialized tree node: a leaf has `distribution`, an inner node the split and both children. */
export type TreeNodeJson = {distribution: number} | {splitColumn: number; splitValue: number; gain: number; left: TreeNodeJson; right: TreeNodeJson}

/** ml-cart DecisionTreeRegression#toJSON, as ml-random-forest stores each estimator. */
export interface TreeJson {
  name: 'DTRegression'
  options: {gainFunction: 'regression'; splitFunction: 'mean'; minNumSamples: number; maxDepth: number; kind: 'regression'}
  root: TreeNodeJson
}

/** Training rows column by column, with each feature's row order by value: computed once per forest. */
export interface Presorted {
  rows: number
  columns: Float64Array[]
  order: Int32Array[]
  y: Float64Array
}

export function presort(X: number[][], y: number[]): Presorted {
  const rows = X.length
  if (rows === 0) throw new Error('no training rows')
  if (y.length !== rows) throw new Error(`${y.length} labels for ${rows} rows`)
  const width = X[0]!.length
  const columns: Float64Array[] = []
  const order: Int32Array[] = []
  for (let f = 0; f < width; f++) {
    const col = new Float64Array(rows)
    for (let i = 0; i < rows; i++) {
      const v = X[i]![f]!
      if (!Number.isFinite(v)) throw new Error(`feature ${f} of row ${i} is ${v}: features must be finite numbers`)
      col[i] = v
    }
    columns.push(col)
    order.push(argsort(col))
  }
  const labels = Float64Array.from(y)
  for (let i = 0; i < rows; i++) if (!Number.isFinite(labels[i]!)) throw new Error(`label of row ${i} is ${labels[i]}`)
  return {rows, columns, order, y: labels}
}

/**
 * Row indexes in ascending order of value, ties in row order (as ml-cart's stable sort of the
 * sample). A native numeric sort of the values plus a binary search per row: several times faster
 * than sorting indexes with a comparator.
 */
export function argsort(values: Float64Array): Int32Array {
  const n = values.length
  const sortedValues = values.slice().sort()
  const taken = new Int32Array(n)
  const out = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    const v = values[i]!
    let lo = 0
    let hi = n
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (sortedValues[mid]! < v) lo = mid + 1
      else hi = mid
    }
    out[lo + taken[lo]!++] = i
  }
  return out
}

interface Best {
  proxy: number
  feature: number
  position: number
}

/**
 * Builds one tree on the rows with counts[i] > 0 (count = how often the bootstrap drew row i).
 * `features` are the columns (indexes into the presorted data) the tree may split on, in the
 * order ml-cart would scan them; `splitColumn` in the output indexes this list, as
 * ml-random-forest's `indexes[tree]` maps it back. `random` draws the per-node feature samples.
 */
export function buildTree(data: Presorted, counts: Int32Array, features: number[], options: TreeOptions, random: () => number): TreeJson {
  const {columns, y} = data
  const nf = features.length
  let m = 0
  for (let i = 0; i < data.rows; i++) if (counts[i]! > 0) m++
  if (m === 0) throw new Error('empty bootstrap sample')
  // sorted[k * m + p]: the sample's rows in the order of feature features[k].
  const sorted = new Int32Array(nf * m)
  for (let k = 0; k < nf; k++) {
    const order = data.order[features[k]!]!
    let p = k * m
    for (let i = 0; i < data.rows; i++) {
      const r = order[i]!
      if (counts[r]! > 0) sorted[p++] = r
    }
  }
  const goLeft = new Uint8Array(data.rows)
  const scratch = new Int32Array(m)
  const perNode = options.rules === 'sklearn' && options.featuresPerSplit < nf
  const pool = Array.from({length: nf}, (_, k) => k)
  const tryCount = Math.max(1, Math.min(nf, options.featuresPerSplit))
  const minLeaf = options.minSamplesLeaf
  const mlCart = options.rules === 'ml-cart'

  const candidates = (): number[] => {
    if (!perNode) return pool
    // Partial Fisher-Yates: the first tryCount entries are a uniform sample; scanned in column order.
    for (let i = 0; i < tryCount; i++) {
      const j = i + Math.floor(random() * (nf - i))
      const t = pool[i]!
      pool[i] = pool[j]!
      pool[j] = t
    }
    return pool.slice(0, tryCount).sort((a, b) => a - b)
  }

  const node = (start: number, end: number, depth: number, parentGain: number): TreeNodeJson => {
    let w = 0
    let s = 0
    let q = 0
    for (let p = start; p < end; p++) {
      const r = sorted[p]!
      const c = counts[r]!
      const v = y[r]!
      w += c
      s += c * v
      q += c * v * v
    }
    const leaf = (): TreeNodeJson => ({distribution: s / w})
    const distinct = end - start
    if (depth >= options.maxDepth) return leaf()
    if (mlCart ? w <= minLeaf : distinct < 2 * minLeaf) return leaf()
    const nodeSse = q - (s * s) / w
    const eps = 1e-12 * (q + 1)
    if (!mlCart && nodeSse <= eps) return leaf()

    const best: Best = {proxy: -Infinity, feature: -1, position: -1}
    for (const k of candidates()) {
      const col = columns[features[k]!]!
      const base = k * m
      let wl = 0
      let sl = 0
      let prevX = col[sorted[base + start]!]!
      for (let p = start; p < end - 1; p++) {
        const r = sorted[base + p]!
        const c = counts[r]!
        wl += c
        sl += c * y[r]!
        const nextX = col[sorted[base + p + 1]!]!
        if (nextX > prevX) {
          const left = p - start + 1
          if (mlCart || (left >= minLeaf && distinct - left >= minLeaf)) {
            const wr = w - wl
            const sr = s - sl
            const proxy = (sl * sl) / wl + (sr * sr) / wr
            // Ties (equal up to rounding) go to the first candidate, as in ml-cart's scan.
            if (best.feature < 0 || proxy > best.proxy + 1e-11 * Math.abs(best.proxy)) {
              best.proxy = proxy
              best.feature = k
              best.position = p
            }
          }
        }
        prevX = nextX
      }
    }
    if (best.feature < 0) return leaf()
    let gain = q - best.proxy
    if (gain < eps) gain = 0
    // ml-cart splits only when the children's squared error is > 0 and differs from the parent's.
    if (mlCart ? !(gain > 0 && gain !== parentGain) : !(nodeSse - gain > eps)) return leaf()

    const k = best.feature
    const col = columns[features[k]!]!
    const base = k * m
    const splitValue = (col[sorted[base + best.position]!]! + col[sorted[base + best.position + 1]!]!) / 2
    // The predicate prediction uses (x < splitValue), not the scan position: they differ only when the
    // midpoint of two adjacent doubles rounds up.
    let nLeft = 0
    for (let p = start; p < end; p++) {
      const r = sorted[base + p]!
      const l = col[r]! < splitValue ? 1 : 0
      goLeft[r] = l
      nLeft += l
    }
    if (nLeft === 0 || nLeft === distinct) return leaf()
    for (let kk = 0; kk < nf; kk++) {
      const b = kk * m
      let li = b + start
      let ri = 0
      for (let p = b + start; p < b + end; p++) {
        const r = sorted[p]!
        if (goLeft[r]) sorted[li++] = r
        else scratch[ri++] = r
      }
      sorted.set(scratch.subarray(0, ri), li)
    }
    return {
      splitColumn: k, splitValue, gain,
      left: node(start, start + nLeft, depth + 1, gain),
      right: node(start + nLeft, end, depth + 1, gain),
    }
  }

  return {
    name: 'DTRegression',
    options: {gainFunction: 'regression', splitFunction: 'mean', minNumSamples: options.minSamplesLeaf, maxDepth: options.maxDepth, kind: 'regression'},
    root: node(0, m, 0, 0),
  }
}
