import {parentPort, workerData} from 'node:worker_threads'

import {trainTree} from './forest-core.js'
import type {WorkerJob} from './forest.js'

const job = workerData as WorkerJob
const trees = job.jobs.map(({label, seed}) => {
  const tree = trainTree({...job.data, y: job.labels[label]!}, job.params, seed, job.cumulativeWeights)
  parentPort!.postMessage({type: 'tree'})
  return tree
})
parentPort!.postMessage({type: 'done', trees})
