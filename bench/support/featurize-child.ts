/**
 * One featurize measurement in a process of its own (so peak memory belongs to one size):
 *   node --expose-gc dist/bench/support/featurize-child.js <years> <runs> <outDir>
 * Prints one JSON line: per-run stage timings (run 0 is the cold one, the way `rps featurize` runs),
 * peak RSS after the cold run, and V8 heap in use at each stage boundary of the cold run.
 */
import {rename} from 'node:fs/promises'
import {join} from 'node:path'
import type pl from 'nodejs-polars'

import {MiB, cpuSeconds, round} from './common.js'
import {benchFeatureConfig, featurizeBatches, historyFrame, replayBatches} from './replay.js'

const years = Number(process.argv[2])
const runs = Number(process.argv[3] ?? 3)
const outDir = process.argv[4]!
const gc = (globalThis as {gc?: () => void}).gc

async function writeParquet(df: pl.DataFrame, path: string) {
  // As featurize does: zstd, to a temp name, renamed into place.
  const tmp = `${path}.${process.pid}.tmp`
  df.writeParquet(tmp, {compression: 'zstd'})
  await rename(tmp, path)
}

const cfg = benchFeatureConfig()
const batches = replayBatches(years, cfg.variables)
const inputRows = batches.reduce((n, b) => n + b.obs.time.length, 0)
gc?.()
const baseline = {rssMiB: round(process.memoryUsage().rss / MiB, 1), heapUsedMiB: round(process.memoryUsage().heapUsed / MiB, 1)}

interface RunResult {
  stages: Record<string, number>
  totalSeconds: number
  cpuSeconds: number
  datasetRows: number
  historyRows: number
}

const results: RunResult[] = []
let heapAtStages: Record<string, number> = {}
let peakRssAfterColdMiB = 0
for (let r = 0; r < runs; r++) {
  const stages: Record<string, number> = {}
  const heap: Record<string, number> = {}
  const cpu0 = cpuSeconds()
  const t0 = performance.now()
  let last = t0
  const mark = (stage: string) => {
    const now = performance.now()
    stages[stage] = round((now - last) / 1000, 4)
    last = now
    heap[stage] = round(process.memoryUsage().heapUsed / MiB, 1)
  }
  const out = featurizeBatches(batches, cfg, undefined, mark)
  await writeParquet(out.dataset, join(outDir, 'dataset.parquet'))
  await writeParquet(historyFrame(out.table, cfg), join(outDir, 'observations.parquet'))
  mark('writeParquet')
  results.push({
    stages, totalSeconds: round((performance.now() - t0) / 1000, 4), cpuSeconds: round(cpuSeconds() - cpu0, 3),
    datasetRows: out.dataset.height, historyRows: out.table.time.length,
  })
  if (r === 0) {
    heapAtStages = heap
    peakRssAfterColdMiB = round(process.resourceUsage().maxRSS / 1024, 1)
  }
  gc?.()
}

console.log(JSON.stringify({
  years, inputRows, baseline, peakRssAfterColdMiB, peakRssAllRunsMiB: round(process.resourceUsage().maxRSS / 1024, 1), heapAtStages, runs: results,
}))
