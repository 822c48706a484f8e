import axios from 'axios'
import express, {type NextFunction, type Request, type Response} from 'express'
import {appendFile, mkdir} from 'node:fs/promises'
import {dirname} from 'node:path'

import {errorMessage} from '../errors.js'
import {RETRAIN_DAG_ID, type RetrainDecision} from './retrain-trigger.js'

/** One alert as Alertmanager (and Grafana) webhooks send it. */
export interface WebhookAlert {
  status: string
  labels: Record<string, string>
  annotations?: Record<string, string>
  startsAt?: string
  endsAt?: string
  fingerprint?: string
}

export interface SinkDeps {
  file: string
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

/** Alert receiver: appends each alert as one JSON line; forwards to Slack when configured. */
export function createSinkApp(deps: SinkDeps): express.Express {
  const app = express()
  app.disable('x-powered-by')
  app.get('/health', (_req, res) => {
    res.json({status: 'ok'})
  })
  app.post('/alerts', express.json({limit: '1mb'}), async (req, res) => {
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
    await mkdir(dirname(deps.file), {recursive: true})
    // One append per request: each line is complete; concurrent requests never interleave a line.
    if (lines.length) await appendFile(deps.file, lines.join('\n') + '\n')
    for (const a of alerts) deps.log(`${a.status} ${a.labels?.alertname ?? '?'} ${JSON.stringify(a.labels ?? {})}`)
    if (deps.slackWebhookUrl && alerts.length) {
      const text = alerts.map((a) => `*${a.status.toUpperCase()}* ${a.labels?.alertname ?? ''}: ${a.annotations?.summary ?? a.annotations?.description ?? ''}`).join('\n')
      await axios.post(deps.slackWebhookUrl, {text}, {timeout: 5000}).catch((error: Error) => deps.log(`slack forward failed: ${error.message}`))
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
    res.status(err.type === 'entity.parse.failed' ? 400 : 500).json({error: err.type === 'entity.parse.failed' ? `body is not valid JSON: ${err.message}` : 'internal error'})
  })
  return app
}
