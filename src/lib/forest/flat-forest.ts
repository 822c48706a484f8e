import type {ForestJson} from './forest-core.js'

/**
 * An ml-random-forest regression model (its standard toJSON form) flattened once into typed
 * arrays: node n splits on feature[n] (an index into the full feature row, the tree's own column
 * subset already resolved) at threshold[n], or is a leaf (feature[n] = -1) answering value[n].
 * Walking it allocates nothing and gives the library's floats: the same `x < split` test (NaN goes
 * right) and the same mean, summed in tree order.
 */
export interface FlatForest {
  trees: number
  width: number
  /** Root node of each tree. */
  roots: Int32Array
  feature: Int32Array
  threshold: Float64Array
  left: Int32Array
  right: Int32Array
  value: Float64Array
}

interface NodeJson {
  distribution?: number | number[]
  splitColumn?: number
  splitValue?: number
  left?: NodeJson
  right?: NodeJson
}

export function flattenForest(json: ForestJson, width: number): FlatForest {
  if (json.name !== 'RFRegression') throw new Error(`not a random forest regression model (name ${String(json.name)})`)
  const selection = (json as unknown as {selectionMethod?: string}).selectionMethod ?? 'mean'
  if (selection !== 'mean') throw new Error(`unsupported selection method ${selection} (only mean)`)
  const {estimators, indexes} = json.baseModel
  if (!Array.isArray(estimators) || estimators.length === 0) throw new Error('the forest has no trees')
  if (!Array.isArray(indexes) || indexes.length !== estimators.length) throw new Error('the forest has no column indexes per tree')
  const feature: number[] = []
  const threshold: number[] = []
  const left: number[] = []
  const right: number[] = []
  const value: number[] = []
  const roots = new Int32Array(estimators.length)
  estimators.forEach((estimator, t) => {
    const columns = indexes[t]!
    const root = (estimator as {root?: NodeJson}).root
    if (!root || typeof root !== 'object') throw new Error(`tree ${t} has no root`)
    // Iterative, so a deep tree cannot overflow the stack.
    const stack: {node: NodeJson; slot: number}[] = []
    const alloc = () => {
      feature.push(-1)
      threshold.push(0)
      left.push(-1)
      right.push(-1)
      value.push(0)
      return feature.length - 1
    }
    roots[t] = alloc()
    stack.push({node: root, slot: roots[t]!})
    while (stack.length) {
      const {node, slot} = stack.pop()!
      if (node.distribution !== undefined) {
        if (typeof node.distribution !== 'number') throw new Error(`tree ${t}: a leaf without a numeric value`)
        value[slot] = node.distribution
        continue
      }
      const column = columns[node.splitColumn!]
      if (column === undefined || !Number.isInteger(column) || column < 0 || column >= width || typeof node.splitValue !== 'number' || !node.left || !node.right) {
        throw new Error(`tree ${t}: a split node without a valid column, value and two children`)
      }
      feature[slot] = column
      threshold[slot] = node.splitValue
      const l = alloc()
      const r = alloc()
      left[slot] = l
      right[slot] = r
      stack.push({node: node.right, slot: r}, {node: node.left, slot: l})
    }
  })
  return {
    trees: estimators.length, width, roots,
    feature: Int32Array.from(feature), threshold: Float64Array.from(threshold),
    left: Int32Array.from(left), right: Int32Array.from(right), value: Float64Array.from(value),
  }
}

/** The forest's prediction for one row of `width` features starting at `offset` of `x`. */
export function predictFlat(forest: FlatForest, x: ArrayLike<number>, offset = 0): number {
  const {roots, feature, threshold, left, right, value} = forest
  let sum = 0
  for (let t = 0; t < roots.length; t++) {
    let n = roots[t]!
    let f = feature[n]!
    while (f >= 0) {
      n = x[offset + f]! < threshold[n]! ? left[n]! : right[n]!
      f = feature[n]!
    }
    sum += value[n]!
  }
  return sum / roots.length
}
