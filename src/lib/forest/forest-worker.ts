import {parentPort, workerData} from 'node:worker_threads'

import {type ForestParams, trainTree} from './forest-core.js'
import type {Presorted} from './tree-builder.js'

interface Job {
  data: Presorted
  params: ForestParams
  seeds: number[]
  cumulativeWeights?: Float64Array
}

const job = workerData as Job
const trees = job.seeds.map((seed) => {
  const tree = trainTree(job.data, job.params, seed, job.cumulativeWeights)
  parentPort!.postMessage({type: 'tree'})
  return tree
})
parentPort!.postMessage({type: 'done', trees})
