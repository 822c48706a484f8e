import express, {type NextFunction, type Request, type Response} from 'express'
import {timingSafeEqual} from 'node:crypto'
import type {IncomingMessage, RequestListener, ServerResponse} from 'node:http'

import type {PredictionLogWriter, PredictionRecord} from '../live/prediction-log.js'
import type {ServiceMetrics} from './metrics.js'
import type {ModelHolder} from './model-holder.js'
import {openApiDocument} from './openapi.js'
import {jsonShapeProblem} from './json-shape.js'
import {InputError} from './served-model.js'

/** A valid body nests 5 deep (body, instances, instance, observations, row). */
const MAX_JSON_DEPTH = 8

export interface AppDeps {
  holder: ModelHolder
  metrics: ServiceMetrics
  adminToken: string | undefined
  bodyLimit: string
  version: string
  log: (line: string) => void
  /** When set, predictions made from observations (they have a target time) are appended here, one batch per request. */
  predictionLog?: PredictionLogWriter
  /** Test aid: added latency on /predict, to drive latency alerts end to end. */
  debugDelayMs?: number
}

function tokenMatches(given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** Every path and its methods (express answers HEAD wherever it answers GET). */
export const ROUTES: Record<string, string[]> = {
  '/health': ['GET', 'HEAD'], '/ready': ['GET', 'HEAD'], '/model': ['GET', 'HEAD'], '/metrics': ['GET', 'HEAD'], '/openapi.json': ['GET', 'HEAD'],
  '/predict': ['POST'], '/admin/reload': ['POST'],
}

/** Builds the HTTP app; never listens (server.ts owns the port). */
export function createApp(deps: AppDeps): express.Express {
  const app = express()
  app.disable('x-powered-by')
  app.set('etag', false)

  app.use((req, res, next) => {
    const started = performance.now()
    res.on('finish', () => {
      deps.metrics.recordHttp((req.route as {path?: string} | undefined)?.path ?? 'unmatched', req.method, res.statusCode, (performance.now() - started) / 1000)
    })
    next()
  })

  app.get('/health', (_req, res) => {
    res.json({status: 'ok'})
  })

  app.get('/ready', (_req, res) => {
    const model = deps.holder.current
    if (!model) res.status(503).json({ready: false, error: deps.holder.lastError ?? 'no model loaded'})
    else res.json({ready: true, model: model.identity})
  })

  app.get('/model', (_req, res) => {
    const model = deps.holder.current
    if (!model) {
      res.status(503).json({error: deps.holder.lastError ?? 'no model loaded'})
      return
    }
    const m = model.model.meta
    res.json({
      ...model.identity, target: m.target, horizonHours: m.horizonHours, horizons: model.horizons, intervalLevels: model.levels, targetMode: m.targetMode,
      dataVersion: m.dataVersion, codeVersion: m.codeVersion, trainedAt: m.trainedAt, metrics: m.metrics, metricsByHorizon: m.metricsByHorizon ?? null,
      calibration: m.calibration ?? null,
      features: m.features, minObservations: model.minObservations, maxObservations: model.maxObservations, example: model.example(),
      exampleRequest: {instances: [model.exampleObservations()], horizons: model.horizons.slice(0, Math.min(3, model.horizons.length))},
    })
  })

  app.get('/metrics', async (_req, res) => {
    res.set('Content-Type', deps.metrics.registry.contentType)
    res.send(await deps.metrics.registry.metrics())
  })

  app.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument(deps.holder.current, deps.version, deps.bodyLimit))
  })

  const verify = (_req: Request, _res: Response, buf: Buffer) => checkBodyShape(deps, buf)
  app.post('/predict', express.json({limit: deps.bodyLimit, strict: false, type: 'application/json', verify}), async (req, res) => {
    if (!req.is('application/json')) {
      res.status(415).json({error: 'send the request as application/json'})
      return
    }
    const answer = await answerPredict(deps, req.body)
    res.status(answer.status).json(answer.body)
  })

  app.post('/admin/reload', async (req, res) => {
    if (!deps.adminToken) {
      res.status(403).json({error: 'reload is disabled: set RPS_ADMIN_TOKEN to enable it'})
      return
    }
    const header = req.get('authorization') ?? ''
    if (!header.startsWith('Bearer ') || !tokenMatches(header.slice(7), deps.adminToken)) {
      res.status(401).json({error: 'missing or wrong bearer token'})
      return
    }
    try {
      res.json(await deps.holder.reload())
    } catch (error) {
      res.status(422).json({error: `new model rejected: ${(error as Error).message}`, serving: deps.holder.current?.identity ?? null})
    }
  })

  // A known path with a method it does not serve: 405 naming the ones it does.
  for (const [path, allow] of Object.entries(ROUTES)) {
    app.all(path, (req, res) => {
      res.set('Allow', allow.join(', ')).status(405).json({error: `${req.method} is not allowed on ${path}; use ${allow.join(' or ')}`})
    })
  }

  app.use((_req, res) => {
    res.status(404).json({error: 'not found'})
  })

  app.use((err: HttpError, req: Request, res: Response, _next: NextFunction) => {
    const answer = errorAnswer(deps, err, `${req.method} ${req.path}`)
    res.status(answer.status).json(answer.body)
  })
  return app
}

/**
 * The server's request listener: POST /predict with a plain JSON body of known length goes the
 * direct way (directPredict); everything else, including every unusual /predict request, is express's.
 */
export function createHandler(deps: AppDeps): RequestListener {
  const app = createApp(deps)
  const limitBytes = parseByteLimit(deps.bodyLimit)
  return (req, res) => {
    if (!directPredict(deps, limitBytes, req, res)) app(req, res)
  }
}

/** A body shape no valid request has (too many keys, too deep, too long an array): throws before JSON.parse. */
function checkBodyShape(deps: AppDeps, body: Uint8Array): void {
  const model = deps.holder.current
  const problem = jsonShapeProblem(body, 2 * (model?.features.length ?? 64) + 16, MAX_JSON_DEPTH, Math.max(model?.limits.maxInstances ?? 1000, model?.maxObservations ?? 100))
  if (problem) throw new InputError(`invalid request: ${problem} (no valid request has one)`)
}

interface Answer {
  status: number
  body: unknown
}

/** The answer to a parsed /predict body, whichever way it came in. Throws InputError for a bad request. */
async function answerPredict(deps: AppDeps, body: unknown): Promise<Answer> {
  // Take the model once: a reload during this request does not change what answers it.
  const model = deps.holder.current
  if (!model) return {status: 503, body: {error: 'no model loaded'}}
  const request = model.checkRequest(body)
  if (deps.debugDelayMs) await new Promise((r) => setTimeout(r, deps.debugDelayMs))
  const {predictions, oodFeatures, issuedMs, current} = model.predict(request)
  deps.metrics.recordPredictionRequest(predictions.length, oodFeatures)
  if (deps.predictionLog) {
    const loggedAt = new Date().toISOString()
    const records: PredictionRecord[] = []
    predictions.forEach((p, i) => {
      if (p.target_time && !Number.isNaN(issuedMs[i])) records.push({issued_at: new Date(issuedMs[i]!).toISOString(), target_time: p.target_time, prediction: p.prediction, persistence: current[i]!, model: p.model, source: 'serve', logged_at: loggedAt})
    })
    deps.predictionLog.write(records)
  }
  return {status: 200, body: {predictions}}
}

type HttpError = Error & {type?: string; status?: number}

/** The status and JSON of an error, the same for both ways into /predict and every other route. */
function errorAnswer(deps: AppDeps, err: HttpError, where: string): Answer {
  const reject = (status: number, error: string) => ({status, body: {error}})
  if (err instanceof InputError) return reject(400, err.message)
  if (err.type === 'entity.verify.failed') return reject(400, err.message)
  if (err.type === 'entity.parse.failed') return reject(400, `body is not valid JSON: ${err.message}`)
  if (err.type === 'entity.too.large') return reject(413, `body larger than ${deps.bodyLimit}`)
  if (err.type === 'encoding.unsupported' || err.type === 'charset.unsupported') return reject(415, err.message)
  if (err.status && err.status >= 400 && err.status < 500) return reject(err.status, err.message)
  deps.log(`error on ${where}: ${err.stack ?? err.message}`)
  return reject(500, 'internal error')
}

const PLAIN_JSON = /^application\/json\s*(;\s*charset\s*=\s*"?utf-8"?\s*)?$/i

/**
 * POST /predict without express: express's router, body-parser and res.json cost about as much CPU
 * as the whole prediction (bench/results/serve.json). Taken only for the plain case -- exact path,
 * JSON in UTF-8, no Content-Encoding, a Content-Length within the limit -- where it answers exactly
 * as the express route would (same checks, same errors, same metrics); false hands the request to express.
 */
function directPredict(deps: AppDeps, limitBytes: number, req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method !== 'POST' || req.url !== '/predict') return false
  const headers = req.headers
  const length = Number(headers['content-length'])
  if (!(length > 0 && length <= limitBytes) || headers['transfer-encoding'] !== undefined) return false
  if ((headers['content-encoding'] ?? 'identity').toLowerCase() !== 'identity' || !PLAIN_JSON.test(headers['content-type'] ?? '')) return false
  const started = performance.now()
  const answer = (a: Answer) => {
    const text = JSON.stringify(a.body)
    res.writeHead(a.status, {'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text)})
    res.end(text)
    deps.metrics.recordHttp('/predict', 'POST', a.status, (performance.now() - started) / 1000)
  }
  const chunks: Buffer[] = []
  let size = 0
  req.on('data', (chunk: Buffer) => {
    chunks.push(chunk)
    size += chunk.length
  })
  req.on('error', () => res.destroy())
  req.on('end', () => {
    let body: unknown
    try {
      const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)
      checkBodyShape(deps, bytes)
      // As body-parser: UTF-8 without a byte order mark.
      const text = bytes.toString('utf8')
      try {
        body = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)
      } catch (error) {
        throw Object.assign(error as Error, {type: 'entity.parse.failed'})
      }
    } catch (error) {
      answer(errorAnswer(deps, error as HttpError, 'POST /predict'))
      return
    }
    answerPredict(deps, body).then(answer, (error: HttpError) => answer(errorAnswer(deps, error, 'POST /predict')))
  })
  return true
}

/** Bytes of an express-style limit ('1400kb', '2mb', '512b' or a plain number). */
export function parseByteLimit(limit: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(limit.trim())
  if (!m) throw new Error(`body limit '${limit}' is not a size such as 1400kb or 2mb`)
  const unit = {b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3}[(m[2] ?? 'b').toLowerCase() as 'b']
  return Math.floor(Number(m[1]) * unit)
}
