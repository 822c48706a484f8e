import {parentPort, workerData} from 'node:worker_threads'

import {type ForestParams, trainTree} from './forest-core.js'

interface Job {
  X: number[][]
  y: number[]
  params: ForestParams
  seeds: number[]
  cumulativeWeights?: Float64Array
}

const job = workerData as Job
const trees = job.seeds.map((seed) => {
  const tree = trainTree(job.X, job.y, job.params, seed, job.cumulativeWeights)
  parentPort!.postMessage({type: 'tree'})
  return tree
})
parentPort!.postMessage({type: 'done', trees})
