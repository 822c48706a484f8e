import autocannon from 'autocannon'
import {readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {featureNames} from '../src/lib/features/build-features.js'
import {HOUR_MS, REPLAY_STATION, loadReplaySeries} from '../src/lib/sources/replay-series.js'
import {timeSplit} from '../src/lib/model/dataset.js'
import {computeFeatureStats} from '../src/lib/model/feature-stats.js'
import {trainForest} from '../src/lib/forest/forest.js'
import {MODEL_FORMAT, writeModelDir} from '../src/lib/model/model-dir.js'
import {
  BENCH_DIST, BENCH_SRC, type BenchContext, type BenchOutput, type Child, MiB, ROOT, type TableRow, VENV_BIN, VENV_PYTHON,
  fmt, freePort, median, procMemory, quantile, round, runCommand, startChild,
} from './support/common.js'
import {forestParamsOf, modelSectionOf, writeMatrix} from './support/model-data.js'
import {REPLAY_START_MS, benchFeatureConfig, benchParams, replayModelRows} from './support/replay.js'
import {type LoadResult, haveWrk, wrkLoad} from './support/wrk.js'

const CONNECTIONS = 32
const DURATION_S = Number(process.env.RPS_BENCH_SERVE_SECONDS ?? 5)
const ROUNDS = Number(process.env.RPS_BENCH_SERVE_ROUNDS ?? 3)
const SOAK_S = Number(process.env.RPS_BENCH_SERVE_SOAK_SECONDS ?? 300)
const WARMUP_S = 2
const BATCH = 100

type ServerName = 'rps' | 'echo' | 'mlflow'
type PayloadName = 'single' | 'batch100' | 'observations25h'
/** The raw-observation instance (the server builds the features): the fewest hours the model takes. */
const OBSERVATION_HOURS = 25

const round1 = (x: number) => round(x, 1)

interface Point extends LoadResult {
  server: ServerName
  payload: PayloadName
  instancesPerSecond: number
}

type LoadGenerator = 'wrk' | 'autocannon'
let generator: LoadGenerator = 'wrk'
let loadTmp = ''

/** One closed-loop load point: `connections` keep-alive connections, each one request at a time. */
function loadPoint(url: string, body: string, connections: number, seconds: number): Promise<LoadResult> {
  return generator === 'wrk' ? wrkLoad(loadTmp, url, body, connections, seconds) : autocannonLoad(url, body, connections, seconds)
}

async function autocannonLoad(url: string, body: string, connections: number, seconds: number): Promise<LoadResult> {
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

/** Each poison request of issue 12 once, in order: status and milliseconds. */
async function poisonTimings(url: string, variables: string[]): Promise<{name: string; status: number; ms: number; bytes: number}[]> {
  const end = Date.UTC(2026, 4, 1, 12)
  const rows = (n: number) => Array.from({length: n}, (_, k) => ({time: new Date(end - (n - 1 - k) * HOUR_MS).toISOString().replace('.000Z', 'Z'), ...Object.fromEntries(variables.map((v, j) => [v, 10 + j]))}))
  const farBack = rows(26)
  farBack[0]!.time = '1026-05-01T12:00:00Z'
  const extended = rows(25)
  extended[3]!.time = '+100000-01-01T00:00:00Z'
  const cases: [string, string][] = [
    ['181 observations instances (~1 MB, valid)', JSON.stringify({instances: Array.from({length: 181}, () => ({observations: rows(26)}))})],
    ['26 rows, one 1000 years earlier', JSON.stringify({instances: [{observations: farBack}]})],
    ['+100000 time', JSON.stringify({instances: [{observations: extended}]})],
    ['60k-key object', `{"instances":[{"features":{${Array.from({length: 60_000}, (_, i) => `"k${i}":1`).join(',')}}}]}`],
    ['500k-item array', `{"instances":[${'1,'.repeat(500_000)}1]}`],
  ]
  const out = []
  for (const [name, body] of cases) {
    const t0 = performance.now()
    const res = await fetch(url, {method: 'POST', headers: {'content-type': 'application/json'}, body})
    await res.arrayBuffer()
    out.push({name, status: res.status, ms: round(performance.now() - t0, 2), bytes: body.length})
  }
  return out
}

/** In-process cost of an observations instance: the typed-array path serve runs vs a polars frame per call (why serve has no polars). */
async function featureCost(modelDir: string, body: string) {
  const {loadModelDir} = await import('../src/lib/model/model-dir.js')
  const {ServedModel} = await import('../src/lib/serve/served-model.js')
  const pl = (await import('nodejs-polars')).default
  const model = new ServedModel(await loadModelDir(modelDir), {name: 'bench', version: '1', alias: 'bench', verified: false}, {maxInstances: 1000})
  const time = (n: number, f: () => void) => {
    for (let i = 0; i < Math.min(n, 200); i++) f()
    const t0 = performance.now()
    for (let i = 0; i < n; i++) f()
    return ((performance.now() - t0) * 1000) / n
  }
  const parsed = JSON.parse(body)
  const servedUs = time(20_000, () => model.predict(model.checkRequest(parsed)))
  const features = JSON.parse(body).instances[0].observations as Record<string, number>[]
  const variables = model.plan.variables
  const exprs = [pl.col(variables[0]!).shift(1).alias('lag'), pl.col(variables[0]!).rollingMean({windowSize: 24, minPeriods: 24}).alias('mean'), pl.col(variables[0]!).rollingStd({windowSize: 24, minPeriods: 24}).alias('std')]
  const polarsUs = time(50, () => {
    pl.DataFrame(Object.fromEntries(variables.map((v) => [v, pl.Series(v, features.map((o) => o[v]!), pl.Float64)]))).select(...exprs).tail(1).toRecords()
  })
  return {
    servedRequestUs: round(servedUs, 2), polarsFramePlus3PreparedExprsUs: round(polarsUs, 1),
    note: 'servedRequestUs: checkRequest + predict of one 25 h observations instance (parsed body), in the bench process; polars: a 25-row frame and 3 prepared expressions per call, the least a polars path does',
  }
}

export async function run(ctx: BenchContext): Promise<BenchOutput> {
  loadTmp = ctx.tmp
  // wrk by default (the issue's own measurements used it); autocannon runs in this Node process and
  // takes most of a core from the servers it measures on a 2-core machine.
  const wanted = (process.env.RPS_BENCH_LOAD ?? 'wrk') as LoadGenerator
  if (wanted !== 'wrk' && wanted !== 'autocannon') throw new Error(`RPS_BENCH_LOAD must be wrk or autocannon, not '${wanted}'`)
  if (wanted === 'wrk' && !(await haveWrk())) throw new Error('wrk is not installed: scripts/install-bench-tools.sh (Debian package wrk), or RPS_BENCH_LOAD=autocannon')
  generator = wanted
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
    time: new Date(REPLAY_START_MS + (firstHour + i) * HOUR_MS).toISOString().replace('.000Z', 'Z'),
    ...Object.fromEntries(cfg.variables.map((v) => [v, series.values[v]![firstHour + i] ?? null])),
  }))
  const bodies: Record<ServerName, Partial<Record<PayloadName, string>>> = {
    rps: {single: rpsBody(1), batch100: rpsBody(BATCH), observations25h: JSON.stringify({instances: [{observations}]})},
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
  const results: Record<string, unknown> = {}
  const predictionsOk = (n: number) => (json: unknown) => Array.isArray((json as {predictions?: unknown[]}).predictions) && (json as {predictions: unknown[]}).predictions.length === n

  // Every server runs at once (idle ones cost no CPU) so rounds interleave: a change in the machine's
  // load hits every server in a round alike, and ratios are taken within rounds.
  const servers: Partial<Record<ServerName, {child: Child; url: string; pid: number}>> = {}
  const starts: Record<string, number> = {}
  const memory: Record<string, unknown> = {}
  const launch = async (server: ServerName, start: () => Promise<{child: Child; url: string}>) => {
    const t0 = performance.now()
    const {child, url} = await start()
    starts[server] = round((performance.now() - t0) / 1000, 2)
    servers[server] = {child, url, pid: child.child.pid!}
  }
  let mlflowSkipped: string | undefined
  try {
    await launch('echo', async () => {
      const child = startChild(process.execPath, [join(BENCH_DIST, 'support/echo-server.js')])
      const m = await child.waitFor(/listening on (http:\/\/\S+)/, 30_000)
      return {child, url: `${m[1]!}/predict`}
    })
    await launch('rps', async () => {
      const child = startChild(join(ROOT, 'bin/rps'), ['serve', '--model-dir', modelDir, '--host', '127.0.0.1', '--port', '0'], {env: {CI: 'true', NO_COLOR: '1'}})
      const m = await child.waitFor(/listening on (http:\/\/\S+)/, 60_000)
      return {child, url: `${m[1]!}/predict`}
    })
    memory.rpsIdle = procMemory(servers.rps!.pid)
    memory.rpsLoadsPolars = (await readFile(`/proc/${servers.rps!.pid}/maps`, 'utf8')).includes('polars')
    try {
      await launch('mlflow', async () => {
        const port = await freePort()
        const child = startChild(join(VENV_BIN, 'mlflow'), ['models', 'serve', '-m', logged.model_uri, '--env-manager', 'local', '-h', '127.0.0.1', '-p', String(port)], {
          env: {MLFLOW_TRACKING_URI: trackingUri, PATH: `${VENV_BIN}:${process.env.PATH ?? ''}`}, group: true, cwd: ctx.tmp,
        })
        const base = `http://127.0.0.1:${port}`
        const deadline = Date.now() + 180_000
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
      })
    } catch (error) {
      mlflowSkipped = (error as Error).message.slice(0, 2000)
      ctx.log(`serve: MLflow reference failed: ${mlflowSkipped}`)
    }
    for (const server of Object.keys(servers) as ServerName[]) {
      for (const payload of Object.keys(bodies[server]) as PayloadName[]) {
        await check(servers[server]!.url, bodies[server][payload]!, (json) => (server === 'echo' ? ((json as {instances?: unknown[]}).instances?.length ?? 0) === sizeOf(payload) : predictionsOk(sizeOf(payload))(json)), `${server} ${payload}`)
      }
      for (const payload of Object.keys(bodies[server]) as PayloadName[]) await loadPoint(servers[server]!.url, bodies[server][payload]!, 8, WARMUP_S)
    }

    // Interleaved rounds: single and batch100 on every server, observations, and the mixed load.
    const rounds: {round: number; points: Point[]; mixed: {features: LoadResult; observations: LoadResult}}[] = []
    for (let round = 1; round <= ROUNDS; round++) {
      const points: Point[] = []
      for (const payload of ['single', 'batch100'] as PayloadName[]) {
        for (const server of Object.keys(servers) as ServerName[]) {
          ctx.log(`serve: round ${round} ${server} ${payload} c=${CONNECTIONS}`)
          const p = await loadPoint(servers[server]!.url, bodies[server][payload]!, CONNECTIONS, DURATION_S)
          points.push({server, payload, ...p, instancesPerSecond: round1(p.requestsPerSecond * sizeOf(payload))})
        }
      }
      ctx.log(`serve: round ${round} rps observations c=${CONNECTIONS}`)
      const obs = await loadPoint(servers.rps!.url, bodies.rps.observations25h!, CONNECTIONS, DURATION_S)
      points.push({server: 'rps', payload: 'observations25h', ...obs, instancesPerSecond: obs.requestsPerSecond})
      ctx.log(`serve: round ${round} rps mixed: ${CONNECTIONS - 1} features + 1 observations connection`)
      const [features, observations] = await Promise.all([
        loadPoint(servers.rps!.url, bodies.rps.single!, CONNECTIONS - 1, DURATION_S),
        loadPoint(servers.rps!.url, bodies.rps.observations25h!, 1, DURATION_S),
      ])
      rounds.push({round, points, mixed: {features, observations}})
    }
    memory.rpsAfterRounds = procMemory(servers.rps!.pid)
    memory.echoAfterRounds = procMemory(servers.echo!.pid)
    if (servers.mlflow) memory.mlflowAfterRounds = await treeMemory(servers.mlflow.pid)

    // The soak: features, batches of 100 and observations at once, then the RSS.
    ctx.log(`serve: ${SOAK_S} s mixed soak (features, batch100, observations)`)
    const soak = await Promise.all([
      loadPoint(servers.rps!.url, bodies.rps.single!, 16, SOAK_S),
      loadPoint(servers.rps!.url, bodies.rps.batch100!, 4, SOAK_S),
      loadPoint(servers.rps!.url, bodies.rps.observations25h!, 12, SOAK_S),
    ])
    memory.rpsAfterSoak = procMemory(servers.rps!.pid)
    const poison = await poisonTimings(servers.rps!.url, cfg.variables)

    Object.assign(results, {rounds, soak: {seconds: SOAK_S, features: soak[0], batch100: soak[1], observations: soak[2]}, poison})
  } finally {
    for (const s of Object.values(servers)) await s.child.stop()
  }

  const cost = await featureCost(modelDir, bodies.rps.observations25h!)
  // Ratios within each round, then the median over rounds.
  const {rounds} = results as {rounds: {points: Point[]; mixed: {features: {requestsPerSecond: number}; observations: {requestsPerSecond: number; latencyMs: {p99: number}}}}[]}
  const at = (points: Point[], server: ServerName, payload: PayloadName) => points.find((p) => p.server === server && p.payload === payload)
  const perRound = rounds.map(({points, mixed}) => {
    const rps1 = at(points, 'rps', 'single')!
    const echo1 = at(points, 'echo', 'single')!
    const mlflow1 = at(points, 'mlflow', 'single')
    const obs = at(points, 'rps', 'observations25h')!
    return {
      featuresOverEcho: rps1.requestsPerSecond / echo1.requestsPerSecond,
      batchOverEcho: at(points, 'rps', 'batch100')!.requestsPerSecond / at(points, 'echo', 'batch100')!.requestsPerSecond,
      observationsOverFeatures: obs.requestsPerSecond / rps1.requestsPerSecond,
      observationsP99Ms: obs.latencyMs.p99,
      mixedOverFeaturesOnly: mixed.features.requestsPerSecond / rps1.requestsPerSecond,
      overMlflow: mlflow1 && mlflow1.requestsPerSecond > 0 ? rps1.requestsPerSecond / mlflow1.requestsPerSecond : null,
      batchOverMlflow: at(points, 'mlflow', 'batch100') ? at(points, 'rps', 'batch100')!.requestsPerSecond / at(points, 'mlflow', 'batch100')!.requestsPerSecond : null,
    }
  })
  const med = (key: keyof (typeof perRound)[number]) => {
    const xs = perRound.map((r) => r[key]).filter((x): x is number => typeof x === 'number')
    return xs.length ? round(median(xs), 3) : null
  }
  const ratios = {
    featuresOverEcho: med('featuresOverEcho'), batchOverEcho: med('batchOverEcho'), observationsOverFeatures: med('observationsOverFeatures'),
    observationsP99Ms: med('observationsP99Ms'), mixedOverFeaturesOnly: med('mixedOverFeaturesOnly'), overMlflow: med('overMlflow'), batchOverMlflow: med('batchOverMlflow'),
    perRound: perRound.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === null ? null : round(v, 3)]))),
  }
  const soakMem = memory.rpsAfterSoak as {vmRssMiB: number; vmHwmMiB: number} | undefined
  const soakRssMB = soakMem ? (soakMem.vmRssMiB * MiB) / 1e6 : Number.NaN
  const idle = memory.rpsIdle as {vmRssMiB: number} | undefined
  const medianOf = (server: ServerName, payload: PayloadName, f: (p: Point) => number) => {
    const xs = rounds.map((r) => at(r.points, server, payload)).filter((p): p is Point => Boolean(p)).map(f)
    return xs.length ? median(xs) : null
  }
  const cell = (server: ServerName, payload: PayloadName) => {
    const rate = medianOf(server, payload, (p) => p.requestsPerSecond)
    return rate === null ? 'n/a' : `${fmt(rate, 0)} r/s p99 ${fmt(medianOf(server, payload, (p) => p.latencyMs.p99), 2)} ms`
  }
  const met = {
    featuresOverEcho: ratios.featuresOverEcho !== null && ratios.featuresOverEcho >= 0.8,
    batchOverEcho: ratios.batchOverEcho !== null && ratios.batchOverEcho >= 0.6,
    observations: ratios.observationsOverFeatures !== null && ratios.observationsOverFeatures >= 0.5 && (ratios.observationsP99Ms ?? Infinity) < 10,
    mixed: ratios.mixedOverFeaturesOnly !== null && ratios.mixedOverFeaturesOnly >= 0.9,
    rssAfterSoak: soakRssMB <= 200,
    vsMlflow: ratios.overMlflow === null ? null : ratios.overMlflow >= 200,
    noPolars: memory.rpsLoadsPolars === false,
  }
  const table: TableRow[] = [
    {metric: `single c=${CONNECTIONS}: rps | echo | mlflow (medians of ${ROUNDS} rounds)`, value: `${cell('rps', 'single')} | ${cell('echo', 'single')} | ${cell('mlflow', 'single')}`},
    {metric: `batch100 c=${CONNECTIONS}: rps | echo | mlflow`, value: `${cell('rps', 'batch100')} | ${cell('echo', 'batch100')} | ${cell('mlflow', 'batch100')}`},
    {metric: `observations (25 h) c=${CONNECTIONS}: rps`, value: cell('rps', 'observations25h')},
    {metric: 'features instance / echo', value: fmt(ratios.featuresOverEcho, 2), target: '>= 0.80', met: met.featuresOverEcho},
    {metric: 'batch of 100 / echo (same body)', value: fmt(ratios.batchOverEcho, 2), target: '>= 0.60', met: met.batchOverEcho},
    {metric: 'observations / features instance; observations p99', value: `${fmt(ratios.observationsOverFeatures, 2)}; ${fmt(ratios.observationsP99Ms, 2)} ms`, target: '>= 0.50; < 10 ms', met: met.observations},
    {metric: `mixed (${CONNECTIONS - 1} features + 1 observations) / features only`, value: fmt(ratios.mixedOverFeaturesOnly, 2), target: '>= 0.90', met: met.mixed},
    {metric: 'rps / mlflow models serve, single (batch100)', value: `${fmt(ratios.overMlflow, 0)}x (${fmt(ratios.batchOverMlflow, 1)}x)`, target: '>= 200x', met: met.vsMlflow},
    {metric: `rps RSS idle / after rounds / after the ${SOAK_S} s mixed soak (MiB)`, value: `${fmt(idle?.vmRssMiB, 0)} / ${fmt((memory.rpsAfterRounds as {vmRssMiB: number} | undefined)?.vmRssMiB, 0)} / ${fmt(soakMem?.vmRssMiB, 0)} (VmHWM ${fmt(soakMem?.vmHwmMiB, 0)})`, target: '<= 200 MB after soak', met: met.rssAfterSoak},
    {metric: 'rps serve loads nodejs-polars', value: String(memory.rpsLoadsPolars), target: 'false', met: met.noPolars},
    {metric: 'poison requests (status, ms)', value: (results.poison as {name: string; status: number; ms: number}[]).map((p) => `${p.name} ${p.status} ${fmt(p.ms, 1)}`).join('; ')},
  ]
  return {
    config: {
      connections: CONNECTIONS, durationSeconds: DURATION_S, warmupSeconds: WARMUP_S, rounds: ROUNDS, soakSeconds: SOAK_S, batch: BATCH, pipelining: 1,
      loadGenerator: `${generator === 'wrk' ? 'wrk 4 (one thread per load run, a separate process; latency percentiles from its HdrHistogram)' : 'autocannon (in the bench process; latency percentiles from exact per-response times)'}, same 2-core machine; all servers up at once, rounds interleaved, ratios within a round then the median`,
      model: {...forestParams, features: year.features.length, trainRows: split.train.X.length},
      servers: {
        rps: 'bin/rps serve --model-dir <tmp> (the launcher users run: one Node process with its memory settings), POST /predict {"instances": [{"features": {...}}]}',
        echo: 'express 5 + express.json echo of the same body (bench/support/echo-server.ts)',
        mlflow: `mlflow models serve --env-manager local (1 uvicorn worker), scikit-learn RandomForestRegressor with the same settings (n_jobs=1), POST /invocations {"dataframe_split": ...}; mlflow ${logged.mlflow}`,
      },
      bodyBytes: Object.fromEntries(Object.entries(bodies).map(([s, b]) => [s, Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v.length]))])),
      observationsPayload: `rps only: one instance of ${OBSERVATION_HOURS} hourly observations (the fewest the model takes)`,
      soak: `${SOAK_S} s at once: 16 connections of single features instances, 4 of batches of 100, 12 of observations instances`,
    },
    results: {
      ...results, ratios, memory, startSeconds: starts, featureCost: cost,
      sklearnModel: {uri: logged.model_uri, nodes: logged.n_nodes, fitSeconds: round(logged.fit_seconds, 2)},
      rpsForestNodes: countNodes(forest),
      ...(mlflowSkipped ? {mlflowError: mlflowSkipped} : {}),
    },
    targets: {
      featuresOverEcho: 'features instance >= 0.80 of a bare express echo at c=32',
      batchOverEcho: 'batch of 100 >= 0.60 of the echo with the same body',
      observations: 'observations instance >= 0.50 of a features instance, p99 < 10 ms at c=32',
      mixed: 'mixed load (31 features connections + 1 observations connection): features throughput >= 0.90 of features-only',
      rssAfterSoak: 'RSS <= 200 MB after the mixed soak',
      vsMlflow: '>= 200x mlflow models serve on a same-size forest (single instance, c=32)',
      noPolars: 'rps serve does not load nodejs-polars',
    },
    met,
    table: [...table, {metric: 'one observations instance in-process: served path (us) | polars frame + 3 prepared exprs (us)', value: `${fmt(cost.servedRequestUs, 1)} | ${fmt(cost.polarsFramePlus3PreparedExprsUs, 0)}`}],
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
