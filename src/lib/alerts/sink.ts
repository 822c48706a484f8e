import axios from 'axios'
import express, {type NextFunction, type Request, type Response} from 'express'
import {createHash, timingSafeEqual} from 'node:crypto'
import {appendFile, mkdir, rename, stat} from 'node:fs/promises'
import {dirname} from 'node:path'

import {ConfigError, errorMessage} from '../errors.js'
import {RETRAIN_DAG_ID, type RetrainDecision} from './retrain-trigger.js'
import type {WebhookAlert} from './webhook-alert.js'

/** Default cap of alerts.jsonl: past it the file becomes <file>.1 (the previous .1 is dropped). */
export const DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024
/** Default bound of one webhook body (Alertmanager's batches are a few KB). */
export const DEFAULT_BODY_LIMIT_BYTES = 256 * 1024

export interface SinkDeps {
  file: string
  /**
   * Bearer token every POST /alerts must carry (Authorization: Bearer <token>); anything else is
   * answered 401 before the body is read. `null` turns authentication off: only the command's
   * --insecure-no-auth on a loopback address asks for that.
   */
  token: string | null
  /** Size past which the file is rotated to <file>.1 before the next append (default DEFAULT_MAX_FILE_BYTES). */
  maxFileBytes?: number
  /** Largest accepted body in bytes (default DEFAULT_BODY_LIMIT_BYTES); larger: 413. */
  bodyLimitBytes?: number
  slackWebhookUrl?: string
  log: (line: string) => void
  /**
   * Called for every firing alert, one at a time and before the alerts are written: the retraining
   * trigger (retrain-trigger.ts). A decision it returns is written into the alert's JSON line as
   * `retrain`; a transient failure answers the whole batch with 503 so Alertmanager sends it again.
   */
  onFiring?: (alert: WebhookAlert) => Promise<RetrainDecision | undefined>
}

function badAlert(a: unknown): string | undefined {
  if (typeof a !== 'object' || a === null || Array.isArray(a)) return 'each alert must be an object'
  const alert = a as Partial<WebhookAlert>
  if (typeof alert.status !== 'string') return 'each alert needs a status (firing or resolved)'
  if (typeof alert.labels !== 'object' || alert.labels === null || Array.isArray(alert.labels)) return 'each alert needs a labels object'
  return undefined
}

/**
 * Text for a Slack mrkdwn field with every control sequence neutralized: Slack reads `<...>` as a
 * mention (`<!channel>`, `<@U123>`, `<!subteam^S1>`) or a link (`<https://x|label>`), and `&`
 * starts an entity. Its documented escapes (&amp; &lt; &gt;) leave the text as it was written.
 */
export function escapeSlack(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
}

/** Compares fixed-length digests, so neither the content nor the length of the token leaks through timing. */
export function tokenMatches(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest()
  return timingSafeEqual(digest(given), digest(expected))
}

/** Shortest token accepted: scripts/env-file.sh and the stack scripts generate 64 hex characters. */
export const MIN_TOKEN_LENGTH = 16
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

/**
 * The token the sink requires, from RPS_ALERT_SINK_TOKEN; null (no authentication) only when asked
 * for with insecureNoAuth on a loopback address and no token is set. Otherwise a ConfigError: a sink
 * that anyone may post to (each post may start a retraining run) is never started by accident.
 */
export function resolveSinkToken(opts: {token: string | undefined; insecureNoAuth: boolean; host: string}): string | null {
  const token = opts.token?.trim()
  if (token) {
    if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
      throw new ConfigError(`RPS_ALERT_SINK_TOKEN must be at least ${MIN_TOKEN_LENGTH} characters without blanks`, ['generate one: openssl rand -hex 32 (scripts/env-file.sh writes one into .env)'])
    }
    return token
  }
  if (!opts.insecureNoAuth) {
    throw new ConfigError('RPS_ALERT_SINK_TOKEN is not set: the alerts sink requires a bearer token', [
      'run scripts/env-file.sh (or make up), which writes a random RPS_ALERT_SINK_TOKEN into .env',
      'or, on a loopback address only, pass --insecure-no-auth',
    ])
  }
  if (!LOOPBACK.has(opts.host)) {
    throw new ConfigError(`--insecure-no-auth is only allowed on a loopback address, not on ${opts.host}`, ['set RPS_ALERT_SINK_TOKEN instead'])
  }
  return null
}

function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer[ ]+(\S+)[ ]*$/i.exec(header ?? '')
  return m?.[1]
}

/** Appends whole requests one at a time, rotating the file first when the append would pass the cap. */
function appender(file: string, maxBytes: number): (text: string) => Promise<void> {
  let queue: Promise<void> = Promise.resolve()
  const write = async (text: string) => {
    await mkdir(dirname(file), {recursive: true})
    const size = await stat(file).then((s) => s.size, () => 0)
    if (size > 0 && size + Buffer.byteLength(text) > maxBytes) await rename(file, `${file}.1`)
    await appendFile(file, text, {mode: 0o600})
  }
  return (text) => {
    const done = queue.then(() => write(text))
    queue = done.catch(() => {})
    return done
  }
}

/** Alert receiver: appends each alert as one JSON line; forwards to Slack when configured. */
export function createSinkApp(deps: SinkDeps): express.Express {
  const app = express()
  app.disable('x-powered-by')
  const append = appender(deps.file, deps.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES)
  app.get('/health', (_req, res) => {
    res.json({status: 'ok'})
  })
  const authenticate = (req: Request, res: Response, next: NextFunction) => {
    if (deps.token === null) return next()
    const given = bearer(req.get('authorization'))
    if (given !== undefined && tokenMatches(given, deps.token)) return next()
    // The connection is closed: an unauthenticated client gets no chance to stream its body.
    res.set('WWW-Authenticate', 'Bearer realm="rps alerts-sink"').set('Connection', 'close')
    res.status(401).json({error: 'missing or wrong bearer token (Authorization: Bearer $RPS_ALERT_SINK_TOKEN)'})
  }
  app.post('/alerts', authenticate, express.json({limit: deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES}), async (req, res) => {
    const body = req.body as {alerts?: unknown; receiver?: string}
    if (!body || !Array.isArray(body.alerts)) {
      res.status(400).json({error: 'expected a webhook body with an alerts array'})
      return
    }
    const problem = (body.alerts as unknown[]).map(badAlert).find(Boolean)
    if (problem) {
      res.status(400).json({error: problem})
      return
    }
    const alerts = body.alerts as WebhookAlert[]
    const receivedAt = new Date().toISOString()
    const decisions: (RetrainDecision | undefined)[] = []
    for (const a of alerts) {
      if (a.status !== 'firing' || !deps.onFiring) {
        decisions.push(undefined)
        continue
      }
      decisions.push(await deps.onFiring(a).catch((error: unknown): RetrainDecision => {
        deps.log(`alert hook failed: ${errorMessage(error)}`)
        return {action: 'failed', at: new Date().toISOString(), dagId: RETRAIN_DAG_ID, transient: true, error: errorMessage(error)}
      }))
    }
    const lines = alerts.map((a, i) => JSON.stringify({
      receivedAt, receiver: body.receiver ?? null, status: a.status, labels: a.labels, annotations: a.annotations ?? {}, startsAt: a.startsAt, endsAt: a.endsAt, fingerprint: a.fingerprint,
      ...(decisions[i] ? {retrain: decisions[i]} : {}),
    }))
    // One append per request, requests in turn: each line is complete, a rotation never splits a batch.
    if (lines.length) await append(lines.join('\n') + '\n')
    for (const a of alerts) deps.log(`${a.status} ${a.labels?.alertname ?? '?'} ${JSON.stringify(a.labels ?? {})}`)
    if (deps.slackWebhookUrl && alerts.length) {
      const text = alerts.map((a) => `*${escapeSlack(a.status.toUpperCase())}* ${escapeSlack(a.labels?.alertname ?? '')}: ${escapeSlack(a.annotations?.summary ?? a.annotations?.description ?? '')}`).join('\n')
      await axios.post(deps.slackWebhookUrl, {text, link_names: false}, {timeout: 5000}).catch((error: Error) => deps.log(`slack forward failed: ${error.message}`))
    }
    const retrain = decisions.filter((d): d is RetrainDecision => d !== undefined)
    const failed = retrain.find((d) => d.action === 'failed' && d.transient)
    if (failed?.action === 'failed') {
      // 5xx is what Alertmanager retries (with backoff, then at every group_interval); the batch is
      // then written again, so alerts.jsonl holds it once per attempt.
      res.status(503).json({error: `the retraining run could not be triggered, retry later: ${failed.error}`, received: alerts.length, retrain})
      return
    }
    res.json({received: alerts.length, ...(retrain.length ? {retrain} : {})})
  })
  app.use((_req, res) => {
    res.status(404).json({error: 'not found'})
  })
  app.use((err: Error & {type?: string}, _req: Request, res: Response, _next: NextFunction) => {
    if (err.type === 'entity.parse.failed') {
      res.status(400).json({error: `body is not valid JSON: ${err.message}`})
      return
    }
    if (err.type === 'entity.too.large') {
      res.status(413).json({error: `body larger than ${deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES} bytes`})
      return
    }
    deps.log(`internal error: ${errorMessage(err)}`)
    res.status(500).json({error: 'internal error'})
  })
  return app
}
