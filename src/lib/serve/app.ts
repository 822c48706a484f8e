import express, {type NextFunction, type Request, type Response} from 'express'
import {timingSafeEqual} from 'node:crypto'

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
    const end = deps.metrics.requestDuration.startTimer()
    res.on('finish', () => {
      const labels = {route: (req.route as {path?: string} | undefined)?.path ?? 'unmatched', method: req.method, status: String(res.statusCode)}
      end(labels)
      deps.metrics.requests.inc(labels)
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
      ...model.identity, target: m.target, horizonHours: m.horizonHours, targetMode: m.targetMode,
      dataVersion: m.dataVersion, codeVersion: m.codeVersion, trainedAt: m.trainedAt, metrics: m.metrics,
      features: m.features, minObservations: model.minObservations, maxObservations: model.maxObservations, example: model.example(),
    })
  })

  app.get('/metrics', async (_req, res) => {
    res.set('Content-Type', deps.metrics.registry.contentType)
    res.send(await deps.metrics.registry.metrics())
  })

  app.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument(deps.holder.current, deps.version, deps.bodyLimit))
  })

  const verify = (_req: Request, _res: Response, buf: Buffer) => {
    const model = deps.holder.current
    const problem = jsonShapeProblem(buf, 2 * (model?.features.length ?? 64) + 16, MAX_JSON_DEPTH, Math.max(model?.limits.maxInstances ?? 1000, model?.maxObservations ?? 100))
    if (problem) throw new InputError(`invalid request: ${problem} (no valid request has one)`)
  }
  app.post('/predict', express.json({limit: deps.bodyLimit, strict: false, type: 'application/json', verify}), async (req, res) => {
    if (!req.is('application/json')) {
      res.status(415).json({error: 'send the request as application/json'})
      return
    }
    // Take the model once: a reload during this request does not change what answers it.
    const model = deps.holder.current
    if (!model) {
      res.status(503).json({error: 'no model loaded'})
      return
    }
    const request = model.checkRequest(req.body)
    if (deps.debugDelayMs) await new Promise((r) => setTimeout(r, deps.debugDelayMs))
    const {predictions, oodFeatures, issuedAt, current} = model.predict(request)
    deps.metrics.recordPredictionRequest(predictions.length, oodFeatures)
    res.json({predictions})
    if (deps.predictionLog) {
      const loggedAt = new Date().toISOString()
      const records: PredictionRecord[] = []
      predictions.forEach((p, i) => {
        if (p.target_time && issuedAt[i]) records.push({issued_at: issuedAt[i]!, target_time: p.target_time, prediction: p.prediction, persistence: current[i]!, model: p.model, source: 'serve', logged_at: loggedAt})
      })
      deps.predictionLog.write(records)
    }
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

  app.use((err: Error & {type?: string; status?: number}, req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof InputError) res.status(400).json({error: err.message})
    else if (err.type === 'entity.verify.failed') res.status(400).json({error: err.message})
    else if (err.type === 'entity.parse.failed') res.status(400).json({error: `body is not valid JSON: ${err.message}`})
    else if (err.type === 'entity.too.large') res.status(413).json({error: `body larger than ${deps.bodyLimit}`})
    else if (err.type === 'encoding.unsupported' || err.type === 'charset.unsupported') res.status(415).json({error: err.message})
    else if (err.status && err.status >= 400 && err.status < 500) res.status(err.status).json({error: err.message})
    else {
      deps.log(`error on ${req.method} ${req.path}: ${err.stack ?? err.message}`)
      res.status(500).json({error: 'internal error'})
    }
  })
  return app
}
