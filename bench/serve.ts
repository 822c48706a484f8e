import autocannon from 'autocannon'
import {readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {featureNames} from '../src/lib/features/build-features.js'
import {HOUR_MS, REPLAY_STATION, loadReplaySeries} from '../src/lib/sources/replay-series.js'
import {timeSplit} from '../src/lib/model/dataset.js'
import {computeFeatureStats} from '../src/lib/model/feature-stats.js'
import {trainForest} from '../src/lib/model/forest.js'
import {MODEL_FORMAT, writeModelDir} from '../src/lib/model/model-dir.js'
import {ServiceMetrics} from '../src/lib/serve/metrics.js'
import {
  BENCH_DIST, BENCH_SRC, type BenchContext, type BenchOutput, type Child, MiB, ROOT, type TableRow, VENV_BIN, VENV_PYTHON,
  fmt, freePort, procMemory, quantile, round, runCommand, startChild,
} from './support/common.js'
import {forestParamsOf, modelSectionOf, writeMatrix} from './support/model-data.js'
import {REPLAY_START_MS, benchFeatureConfig, benchParams, replayModelRows} from './support/replay.js'

const CONNECTIONS = [1, 8, 32, 128]
const DURATION_S = Number(process.env.RPS_BENCH_SERVE_SECONDS ?? 5)
const WARMUP_S = 2
const BATCH = 100

type ServerName = 'rps' | 'echo' | 'mlflow'
type PayloadName = 'single' | 'batch100' | 'observations48h'
/** The raw-observation instance (the server builds the features): rps only, fewer points (it is slow). */
const OBSERVATION_HOURS = 48
const OBSERVATION_CONNECTIONS = [1, 8]

interface Point {
  server: ServerName
  payload: PayloadName
  connections: number
  seconds: number
  requests2xx: number
  non2xx: number
  errors: number
  timeouts: number
  requestsPerSecond: number
  instancesPerSecond: number
  latencyMs: {p50: number; p90: number; p99: number; max: number; mean: number}
}

/** One closed-loop load point: `connections` keep-alive connections, each one request at a time. */
async function loadPoint(url: string, body: string, connections: number, seconds: number): Promise<Omit<Point, 'server' | 'payload' | 'instancesPerSecond'>> {
  const latencies: number[] = []
  const result = await new Promise<autocannon.Result>((resolveRun, reject) => {
    const instance = autocannon({
      url, method: 'POST', headers: {'content-type': 'application/json'}, body, connections, pipelining: 1, duration: seconds, timeout: 20,
    }, (error: unknown, res: autocannon.Result) => (error ? reject(error as Error) : resolveRun(res)))
    // autocannon's own histogram has 1 ms resolution; keep the exact response times instead.
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime)
    })
  })
  const ok = result['2xx']
  return {
    connections, seconds: result.duration, requests2xx: ok, non2xx: result.non2xx, errors: result.errors, timeouts: result.timeouts,
    requestsPerSecond: round(ok / result.duration, 1),
    latencyMs: {
      p50: round(quantile(latencies, 0.5), 3), p90: round(quantile(latencies, 0.9), 3), p99: round(quantile(latencies, 0.99), 3),
      max: round(latencies.reduce((a, b) => Math.max(a, b), 0), 3), mean: round(latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length), 3),
    },
  }
}

/** Sum of VmHWM over a process and its descendants (MLflow's server runs uvicorn in a child). */
async function treeMemory(pid: number): Promise<{vmHwmMiB: number; processes: number}> {
  const pids = [pid]
  for (let i = 0; i < pids.length; i++) {
    try {
      const children = (await readFile(`/proc/${pids[i]}/task/${pids[i]}/children`, 'utf8')).trim()
      if (children) pids.push(...children.split(/\s+/).map(Number))
    } catch {
      // gone
    }
  }
  const mems = pids.map((p) => procMemory(p)?.vmHwmMiB ?? 0)
  return {vmHwmMiB: round(mems.reduce((a, b) => a + b, 0), 1), processes: pids.length}
}

async function check(url: string, body: string, expect: (json: unknown) => boolean, what: string): Promise<void> {
  const res = await fetch(url, {method: 'POST', headers: {'content-type': 'application/json'}, body})
  const text = await res.text()
  if (res.status !== 200 || !expect(JSON.parse(text))) throw new Error(`${what}: unexpected answer ${res.status}: ${text.slice(0, 500)}`)
}

/** Per-request cost of what the metrics middleware and /predict do with prom-client, in-process. */
function metricsOverhead(): {microsecondsPerRequest: number; iterations: number; scrapeMs: number} {
  const metrics = new ServiceMetrics()
  const labels = {route: '/predict', method: 'POST', status: '200'}
  const once = () => {
    const end = metrics.requestDuration.startTimer()
    metrics.recordPredictionRequest(1, [])
    end(labels)
    metrics.requests.inc(labels)
  }
  for (let i = 0; i < 20_000; i++) once()
  const iterations = 200_000
  const t0 = performance.now()
  for (let i = 0; i < iterations; i++) once()
  const us = ((performance.now() - t0) * 1000) / iterations
  return {microsecondsPerRequest: round(us, 3), iterations, scrapeMs: 0}
}

export async function run(ctx: BenchContext): Promise<BenchOutput> {
  const params = benchParams()
  const cfg = benchFeatureConfig(params)
  const section = modelSectionOf(params)
  const forestParams = forestParamsOf(params)

  // The model: params.yaml settings, trained on the replay year's training split (as rps train would).
  const year = replayModelRows(1, cfg)
  const split = timeSplit(year.rows, section.holdout_days, section.validation_days, cfg.horizonHours)
  ctx.log(`serve: training the served forest (${split.train.X.length} rows, ${forestParams.nEstimators} trees)`)
  const forest = await trainForest(split.train.X, split.train.y, forestParams)
  const modelDir = join(ctx.tmp, 'model')
  const empty = {rmse: 0, mae: 0, r2: 0, n: 0}
  await writeModelDir(modelDir, forest, {
    format: MODEL_FORMAT, name: 'rps-temperature', target: cfg.target, horizonHours: cfg.horizonHours, targetMode: cfg.targetMode,
    features: year.features, featureConfig: cfg, trainingStats: computeFeatureStats(year.features, split.train.X),
    hyperparameters: {...forestParams}, metrics: {holdout: {model: empty}},
    split: {trainRows: split.train.X.length, validationRows: split.validation.X.length, holdoutRows: split.holdout.X.length, ...split.boundaries},
    dataVersion: 'bench', codeVersion: 'bench', trainedAt: new Date().toISOString(), trainingSeconds: 0, rpsVersion: 'bench',
  })
  if (JSON.stringify(year.features) !== JSON.stringify(featureNames(cfg))) throw new Error('feature order mismatch')

  // Request bodies from holdout rows: the same rows for every server.
  const rowsFor = (n: number) => split.holdout.X.slice(0, n)
  const rpsBody = (n: number) => JSON.stringify({instances: rowsFor(n).map((r) => ({features: Object.fromEntries(year.features.map((f, j) => [f, r[j]!]))}))})
  const mlflowBody = (n: number) => JSON.stringify({dataframe_split: {columns: year.features, data: rowsFor(n)}})
  // 48 recorded hours from the replay year's holdout period, as a client without features would send them.
  const series = loadReplaySeries(join(ROOT, REPLAY_STATION.file))
  const firstHour = series.values[cfg.target]!.length - 14 * 24
  const observations = Array.from({length: OBSERVATION_HOURS}, (_, i) => ({
    time: new Date(REPLAY_START_MS + (firstHour + i) * HOUR_MS).toISOString(),
    ...Object.fromEntries(cfg.variables.map((v) => [v, series.values[v]![firstHour + i] ?? null])),
  }))
  const bodies: Record<ServerName, Partial<Record<PayloadName, string>>> = {
    rps: {single: rpsBody(1), batch100: rpsBody(BATCH), observations48h: JSON.stringify({instances: [{observations}]})},
    echo: {single: rpsBody(1), batch100: rpsBody(BATCH)},
    mlflow: {single: mlflowBody(1), batch100: mlflowBody(BATCH)},
  }

  // The MLflow reference: the same forest settings in scikit-learn, logged with mlflow.sklearn.log_model.
  const trainPath = join(ctx.tmp, 'train.parquet')
  writeMatrix(trainPath, split.train, year.features)
  const skConfig = join(ctx.tmp, 'sklearn.json')
  const skOut = join(ctx.tmp, 'sklearn-model.json')
  await writeFile(skConfig, JSON.stringify({
    features: year.features, seeds: [forestParams.seed], n_jobs: forestParams.workers,
    variant: {kind: 'random_forest', n_estimators: forestParams.nEstimators, max_depth: forestParams.maxDepth, min_samples_leaf: forestParams.minSamplesLeaf, max_features: forestParams.maxFeatures, max_samples: forestParams.maxSamples},
  }))
  // MLflow 3 refuses the plain file store (maintenance mode): a sqlite store + file artifacts in the scratch dir.
  const trackingUri = `sqlite:///${join(ctx.tmp, 'mlflow.db')}`
  ctx.log('serve: logging the scikit-learn forest to a local MLflow store')
  await runCommand(VENV_PYTHON, [
    join(BENCH_SRC, 'support/sklearn_forest.py'), 'log-model', '--train', trainPath, '--config', skConfig,
    '--tracking-uri', trackingUri, '--artifact-location', `file://${join(ctx.tmp, 'artifacts')}`, '--out', skOut,
  ], {timeoutMs: 300_000, cwd: ctx.tmp})
  const logged = JSON.parse(await readFile(skOut, 'utf8')) as {model_uri: string; mlflow: string; n_nodes: number; fit_seconds: number}

  const sizeOf = (payload: PayloadName) => (payload === 'batch100' ? BATCH : 1)
  const points: Point[] = []
  const memory: Record<string, unknown> = {}
  const starts: Record<string, number> = {}
  const runServer = async (server: ServerName, start: () => Promise<{child: Child; url: string}>, expect: (payload: PayloadName, json: unknown) => boolean) => {
    const t0 = performance.now()
    const {child, url} = await start()
    starts[server] = round((performance.now() - t0) / 1000, 2)
    const pid = child.child.pid!
    const snapshot = async () => (server === 'mlflow' ? await treeMemory(pid) : procMemory(pid))
    const mem: Record<string, unknown> = {idle: await snapshot()}
    memory[server] = mem
    try {
      for (const payload of Object.keys(bodies[server]) as PayloadName[]) {
        const body = bodies[server][payload]!
        await check(url, body, (json) => expect(payload, json), `${server} ${payload}`)
        if (payload !== 'observations48h') await loadPoint(url, body, 8, WARMUP_S)
        for (const connections of payload === 'observations48h' ? OBSERVATION_CONNECTIONS : CONNECTIONS) {
          ctx.log(`serve: ${server} ${payload} ${connections} connection(s), ${DURATION_S} s`)
          const p = await loadPoint(url, body, connections, DURATION_S)
          const instances = sizeOf(payload)
          points.push({server, payload, ...p, instancesPerSecond: round(p.requestsPerSecond * instances, 1)})
        }
        mem[`after_${payload}`] = await snapshot()
      }
    } finally {
      await child.stop()
    }
  }

  const predictionsOk = (n: number) => (json: unknown) => Array.isArray((json as {predictions?: unknown[]}).predictions) && (json as {predictions: unknown[]}).predictions.length === n

  await runServer('echo', async () => {
    const child = startChild(process.execPath, [join(BENCH_DIST, 'support/echo-server.js')])
    const m = await child.waitFor(/listening on (http:\/\/\S+)/, 30_000)
    return {child, url: `${m[1]!}/predict`}
  }, (payload, json) => ((json as {instances?: unknown[]}).instances?.length ?? 0) === sizeOf(payload))

  await runServer('rps', async () => {
    const child = startChild(process.execPath, [join(ROOT, 'bin/run.js'), 'serve', '--model-dir', modelDir, '--host', '127.0.0.1', '--port', '0'], {env: {CI: 'true', NO_COLOR: '1'}})
    const m = await child.waitFor(/listening on (http:\/\/\S+)/, 60_000)
    return {child, url: `${m[1]!}/predict`}
  }, (payload, json) => predictionsOk(sizeOf(payload))(json))

  let mlflowSkipped: string | undefined
  try {
    await runServer('mlflow', async () => {
      const port = await freePort()
      const child = startChild(join(VENV_BIN, 'mlflow'), ['models', 'serve', '-m', logged.model_uri, '--env-manager', 'local', '-h', '127.0.0.1', '-p', String(port)], {
        env: {MLFLOW_TRACKING_URI: trackingUri, PATH: `${VENV_BIN}:${process.env.PATH ?? ''}`}, group: true, cwd: ctx.tmp,
      })
      const base = `http://127.0.0.1:${port}`
      const deadline = Date.now() + 120_000
      for (;;) {
        try {
          if ((await fetch(`${base}/ping`)).status === 200) break
        } catch {
          // not up yet
        }
        if (child.child.exitCode !== null) throw new Error(`mlflow models serve exited: ${child.output().slice(-2000)}`)
        if (Date.now() > deadline) throw new Error(`mlflow models serve did not answer /ping: ${child.output().slice(-2000)}`)
        await new Promise((r) => setTimeout(r, 500))
      }
      return {child, url: `${base}/invocations`}
    }, (payload, json) => predictionsOk(sizeOf(payload))(json))
  } catch (error) {
    mlflowSkipped = (error as Error).message.slice(0, 2000)
    ctx.log(`serve: MLflow reference failed: ${mlflowSkipped}`)
  }

  const overhead = metricsOverhead()
  const scrape = new ServiceMetrics()
  const s0 = performance.now()
  for (let i = 0; i < 100; i++) await scrape.registry.metrics()
  overhead.scrapeMs = round((performance.now() - s0) / 100, 3)

  // Comparisons.
  const point = (server: ServerName, payload: PayloadName, connections: number) => points.find((p) => p.server === server && p.payload === payload && p.connections === connections)
  const ratios = (['single', 'batch100'] as PayloadName[]).flatMap((payload) => CONNECTIONS.map((connections) => {
    const r = point('rps', payload, connections)!
    const e = point('echo', payload, connections)!
    const m = point('mlflow', payload, connections)
    return {
      payload, connections,
      rpsOverEcho: round(r.requestsPerSecond / e.requestsPerSecond, 3),
      rpsOverMlflow: m && m.requestsPerSecond > 0 ? round(r.requestsPerSecond / m.requestsPerSecond, 2) : null,
    }
  }))
  const headline = ratios.find((r) => r.payload === 'single' && r.connections === 32)!
  const rps32 = point('rps', 'single', 32)!
  const rps1 = point('rps', 'single', 1)!
  const rpsMemAll = memory.rps as Record<string, {vmHwmMiB: number; vmRssMiB: number}> | undefined
  const rpsMem = rpsMemAll?.after_batch100
  const rssMB = rpsMem ? (rpsMem.vmHwmMiB * MiB) / 1e6 : Number.NaN
  const overheadOfMedian = overhead.microsecondsPerRequest / (rps1.latencyMs.p50 * 1000)
  const serviceUsAt32 = 1e6 / rps32.requestsPerSecond
  const mlflowMin = ratios.filter((r) => r.rpsOverMlflow !== null).map((r) => r.rpsOverMlflow!)
  const echoMinSingle = Math.min(...ratios.filter((r) => r.payload === 'single' && r.connections > 1).map((r) => r.rpsOverEcho))

  const table: TableRow[] = []
  for (const payload of ['single', 'batch100'] as PayloadName[]) {
    for (const connections of CONNECTIONS) {
      const cell = (server: ServerName) => {
        const p = point(server, payload, connections)
        return p ? `${fmt(p.requestsPerSecond, 0)} r/s p50 ${fmt(p.latencyMs.p50, 2)} p99 ${fmt(p.latencyMs.p99, 2)}${p.non2xx + p.errors ? ` err ${p.non2xx + p.errors}` : ''}` : 'n/a'
      }
      table.push({metric: `${payload} c=${connections}: rps | echo | mlflow`, value: `${cell('rps')} | ${cell('echo')} | ${cell('mlflow')}`})
    }
  }
  table.push(
    ...OBSERVATION_CONNECTIONS.map((connections) => {
      const p = point('rps', 'observations48h', connections)
      return {metric: `rps observations (${OBSERVATION_HOURS} h) instance c=${connections}`, value: p ? `${fmt(p.requestsPerSecond, 1)} r/s p50 ${fmt(p.latencyMs.p50, 1)} p99 ${fmt(p.latencyMs.p99, 1)}` : 'n/a'}
    }),
    {metric: 'rps / echo throughput, single c=32', value: fmt(headline.rpsOverEcho, 2), target: '>= 0.80', met: headline.rpsOverEcho >= 0.8},
    {metric: 'rps / echo throughput, min over single c>=8; batch100 c=32', value: `${fmt(echoMinSingle, 2)}; ${fmt(ratios.find((r) => r.payload === 'batch100' && r.connections === 32)!.rpsOverEcho, 2)}`},
    {metric: 'rps / mlflow throughput, single c=32 (min over all points)', value: `${fmt(headline.rpsOverMlflow, 1)} (${fmt(mlflowMin.length ? Math.min(...mlflowMin) : null, 1)})`, target: '>= 3x', met: headline.rpsOverMlflow === null ? null : headline.rpsOverMlflow >= 3},
    {metric: 'rps p99 latency, single c=32 (ms)', value: fmt(rps32.latencyMs.p99, 2), target: '< 20 ms', met: rps32.latencyMs.p99 < 20},
    {metric: 'metrics cost per request (us) / % of p50 at c=1 / % of service time at c=32', value: `${fmt(overhead.microsecondsPerRequest, 2)} / ${fmt(overheadOfMedian * 100, 2)} % / ${fmt((overhead.microsecondsPerRequest / serviceUsAt32) * 100, 2)} %`, target: '< 10 %', met: overheadOfMedian < 0.1},
    {metric: 'rps serve peak RSS (VmHWM) after the single + batch100 runs', value: `${fmt(rpsMem?.vmHwmMiB, 1)} MiB = ${fmt(rssMB, 1)} MB`, target: '< 200 MB', met: rssMB < 200},
    {metric: 'rps serve RSS idle / VmHWM after single / batch100 / observations48h (MiB)', value: ['idle', 'after_single', 'after_batch100', 'after_observations48h'].map((k) => fmt(k === 'idle' ? rpsMemAll?.[k]?.vmRssMiB : rpsMemAll?.[k]?.vmHwmMiB, 0)).join(' / ')},
    {metric: 'VmHWM after the run: echo / mlflow (all processes) (MiB)', value: `${fmt((memory.echo as Record<string, {vmHwmMiB: number}> | undefined)?.after_batch100?.vmHwmMiB, 0)} / ${fmt((memory.mlflow as Record<string, {vmHwmMiB: number}> | undefined)?.after_batch100?.vmHwmMiB, 0)}`},
  )
  return {
    config: {
      connections: CONNECTIONS, durationSeconds: DURATION_S, warmupSeconds: WARMUP_S, batch: BATCH, pipelining: 1,
      loadGenerator: 'autocannon (in the bench process, same 2-core machine); latency percentiles from exact per-response times',
      model: {...forestParams, features: year.features.length, trainRows: split.train.X.length},
      servers: {
        rps: 'rps serve --model-dir <tmp> (bin/run.js, one Node process), POST /predict {"instances": [{"features": {...}}]}',
        echo: 'express 5 + express.json echo of the same body (bench/support/echo-server.ts)',
        mlflow: `mlflow models serve --env-manager local (1 uvicorn worker), scikit-learn RandomForestRegressor with the same settings (n_jobs=1), POST /invocations {"dataframe_split": ...}; mlflow ${logged.mlflow}`,
      },
      bodyBytes: Object.fromEntries(Object.entries(bodies).map(([s, b]) => [s, Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v.length]))])),
      observationsPayload: `rps only: one instance of ${OBSERVATION_HOURS} hourly observations (the server regularizes them and runs buildFeatures), ${OBSERVATION_CONNECTIONS.join(' and ')} connections`,
      metricsOverhead: 'in-process: requestDuration.startTimer + recordPredictionRequest(1, []) + end(labels) + requests.inc, 200k iterations after 20k warm-up',
    },
    results: {
      points,
      ratios,
      memory,
      startSeconds: starts,
      metricsOverhead: {
        ...overhead,
        percentOfMedianLatencyC1: round(overheadOfMedian * 100, 3),
        percentOfServiceTimeC32: round((overhead.microsecondsPerRequest / serviceUsAt32) * 100, 3),
        medianLatencyC1Ms: rps1.latencyMs.p50,
        serviceTimeC32Us: round(serviceUsAt32, 1),
      },
      sklearnModel: {uri: logged.model_uri, nodes: logged.n_nodes, fitSeconds: round(logged.fit_seconds, 2)},
      rpsForestNodes: countNodes(forest),
      ...(mlflowSkipped ? {mlflowError: mlflowSkipped} : {}),
    },
    targets: {
      echoCeiling: 'rps /predict throughput >= 80 % of the echo server (single instance, 32 connections)',
      vsMlflow: '>= 3x the throughput of mlflow models serve (single instance, 32 connections)',
      p99At32: 'p99 < 20 ms at 32 connections (single instance)',
      metricsOverhead: 'prom-client work per request < 10 % of the median request latency (single, 1 connection)',
      rss: 'rps serve peak RSS (VmHWM) < 200 MB after the single + batch100 runs (the observations48h run comes after and is reported apart)',
    },
    met: {
      echoCeiling: headline.rpsOverEcho >= 0.8,
      vsMlflow: headline.rpsOverMlflow === null ? null : headline.rpsOverMlflow >= 3,
      p99At32: rps32.latencyMs.p99 < 20,
      metricsOverhead: overheadOfMedian < 0.1,
      rss: rssMB < 200,
    },
    table,
  }
}

function countNodes(forest: {baseModel: {estimators: unknown[]}}): number {
  let n = 0
  const walk = (node: {left?: unknown; right?: unknown} | undefined) => {
    if (!node) return
    n++
    walk(node.left as never)
    walk(node.right as never)
  }
  for (const e of forest.baseModel.estimators) walk((e as {root?: never}).root)
  return n
}
