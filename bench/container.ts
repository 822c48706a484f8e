/**
 * The serving image (Dockerfile.serve) on a real Docker engine: its size, the build time with this
 * machine's layer cache, and cold start (`docker run` to /ready answering, and to Docker's own
 * `healthy`), plus the idle memory of the container. The model is params.yaml's forest trained on
 * the replay year, as in the serve benchmark. Base images as scripts/docker-image.sh picks them
 * (the official ones when pullable, else the local ones of scripts/base-images.sh).
 */
import {mkdir, readFile, rm, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {timeSplit} from '../src/lib/model/dataset.js'
import {computeFeatureStats} from '../src/lib/model/feature-stats.js'
import {trainForest} from '../src/lib/forest/forest.js'
import {MODEL_FORMAT, writeModelDir} from '../src/lib/model/model-dir.js'
import {type BenchContext, type BenchOutput, MiB, ROOT, fmt, quantile, round, runCommand} from './support/common.js'
import {forestParamsOf, modelSectionOf} from './support/model-data.js'
import {benchFeatureConfig, benchParams, replayModelRows} from './support/replay.js'

const RUNS = Number(process.env.RPS_BENCH_CONTAINER_RUNS ?? 5)
const IMAGE = 'rps-bench/app'

const docker = async (...args: string[]) => (await runCommand('docker', args, {timeoutMs: 120_000})).stdout.trim()

async function ready(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, {signal: AbortSignal.timeout(1000)})
    return res.status === 200
  } catch {
    return false
  }
}

/** One cold start: `docker run` to the first 200 from /ready, and to Docker's `healthy`. */
async function coldStart(image: string): Promise<{readyMs: number; healthyMs: number; idleMiB: number}> {
  const name = `rps-bench-${process.pid}-${Date.now()}`
  const t0 = performance.now()
  await docker('run', '-d', '--name', name, '-p', '127.0.0.1::8000', image)
  try {
    const port = (await docker('port', name, '8000/tcp')).split('\n')[0]!.split(':').at(-1)
    let readyMs = Number.NaN
    let healthyMs = Number.NaN
    while (performance.now() - t0 < 120_000 && (Number.isNaN(readyMs) || Number.isNaN(healthyMs))) {
      if (Number.isNaN(readyMs) && (await ready(`http://127.0.0.1:${port}/ready`))) readyMs = performance.now() - t0
      if (Number.isNaN(healthyMs) && (await docker('inspect', '--format', '{{.State.Health.Status}}', name)) === 'healthy') healthyMs = performance.now() - t0
      await new Promise((r) => setTimeout(r, 50))
    }
    if (Number.isNaN(readyMs) || Number.isNaN(healthyMs)) throw new Error(`${image} not ready and healthy within 120 s`)
    const stats = JSON.parse(await docker('stats', '--no-stream', '--format', '{{json .}}', name)) as {MemUsage: string}
    const [amount, unit] = /^([\d.]+)\s*([KMG]i?B)/.exec(stats.MemUsage)!.slice(1) as [string, string]
    const idleMiB = Number(amount) * ({KiB: 1 / 1024, MiB: 1, GiB: 1024} as Record<string, number>)[unit]!
    return {readyMs, healthyMs, idleMiB}
  } finally {
    await docker('rm', '-f', name)
  }
}

export async function run(ctx: BenchContext): Promise<BenchOutput> {
  await runCommand(join(ROOT, 'scripts/docker-engine.sh'), ['ensure'], {timeoutMs: 900_000})
  const params = benchParams()
  const cfg = benchFeatureConfig(params)
  const forestParams = forestParamsOf(params)
  const section = modelSectionOf(params)
  const year = replayModelRows(1, cfg)
  const split = timeSplit(year.rows, section.holdout_days, section.validation_days, cfg.horizonHours)
  ctx.log(`container: training the served forest (${split.train.X.length} rows, ${forestParams.nEstimators} trees)`)
  const forest = await trainForest(split.train.X, split.train.y, forestParams)
  // Inside the build context: .dockerignore lets only build/model through.
  const rel = `build/model/bench-container-${process.pid}`
  const modelDir = join(ROOT, rel)
  await mkdir(modelDir, {recursive: true})
  try {
    const empty = {rmse: 0, mae: 0, r2: 0, n: 0}
    await writeModelDir(modelDir, forest, {
      format: MODEL_FORMAT, name: 'rps-temperature', target: cfg.target, horizonHours: cfg.horizonHours, targetMode: cfg.targetMode,
      features: year.features, featureConfig: cfg, trainingStats: computeFeatureStats(year.features, split.train.X),
      hyperparameters: {...forestParams}, metrics: {holdout: {model: empty}},
      split: {trainRows: split.train.X.length, validationRows: split.validation.X.length, holdoutRows: split.holdout.X.length, ...split.boundaries},
      dataVersion: 'bench', codeVersion: 'bench', trainedAt: new Date().toISOString(), trainingSeconds: 0, rpsVersion: 'bench',
    })
    await writeFile(join(modelDir, 'registry.json'), JSON.stringify({name: 'rps-temperature', version: '1', alias: 'champion'}) + '\n')
    ctx.log('container: docker-image.sh build-serve')
    const build = await runCommand(join(ROOT, 'scripts/docker-image.sh'), ['build-serve'], {env: {RPS_MODEL_DIR: rel, RPS_IMAGE_NAME: IMAGE}, timeoutMs: 1_800_000})
    const {version} = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {version: string}
    const image = `${IMAGE}:v${version}`
    const sizeMiB = Number(await docker('image', 'inspect', '--format', '{{.Size}}', image)) / MiB
    const base = /base image (\S+)/.exec(build.stderr)?.[1] ?? 'official (NODE_IMAGE default)'
    const baseMiB = base.startsWith('rps-base/') ? Number(await docker('image', 'inspect', '--format', '{{.Size}}', base)) / MiB : Number.NaN
    const starts = []
    for (let i = 0; i < RUNS; i++) {
      starts.push(await coldStart(image))
      ctx.log(`container: cold start ${i + 1}/${RUNS}: ready ${fmt(starts.at(-1)!.readyMs, 0)} ms, healthy ${fmt(starts.at(-1)!.healthyMs, 0)} ms`)
    }
    const readyMs = starts.map((s) => s.readyMs)
    const healthyMs = starts.map((s) => s.healthyMs)
    const idleMiB = starts.map((s) => s.idleMiB)
    const results = {
      imageMiB: round(sizeMiB, 1), baseImage: base, baseImageMiB: round(baseMiB, 1), buildSeconds: round(build.seconds, 1),
      coldStartReadyMs: {median: round(quantile(readyMs, 0.5), 0), max: round(Math.max(...readyMs), 0)},
      coldStartHealthyMs: {median: round(quantile(healthyMs, 0.5), 0), max: round(Math.max(...healthyMs), 0)},
      idleMemoryMiB: {median: round(quantile(idleMiB, 0.5), 1)},
    }
    return {
      config: {runs: RUNS, model: {...forestParams, features: year.features.length}, healthcheckInterval: '5s (Dockerfile.serve)', buildCache: 'this machine\'s layer cache (npm ci layers usually cached)'},
      results,
      targets: {imageMiB: 'reported only (no budget set)', coldStartHealthyMs: 'reported only: bounded below by the 5 s HEALTHCHECK interval'},
      met: {},
      table: [
        {metric: 'image size (MiB)', value: fmt(sizeMiB, 1)},
        {metric: `base ${base} (MiB)`, value: fmt(baseMiB, 1)},
        {metric: 'build (s, layer cache)', value: fmt(build.seconds, 1)},
        {metric: 'docker run -> /ready 200 (ms, median)', value: fmt(results.coldStartReadyMs.median, 0)},
        {metric: 'docker run -> healthy (ms, median)', value: fmt(results.coldStartHealthyMs.median, 0)},
        {metric: 'idle container memory (MiB)', value: fmt(results.idleMemoryMiB.median, 1)},
      ],
    }
  } finally {
    await rm(modelDir, {recursive: true, force: true})
  }
}
