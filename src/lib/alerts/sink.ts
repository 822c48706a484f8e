import axios from 'axios'
import express, {type NextFunction, type Request, type Response} from 'express'
import {appendFile, mkdir} from 'node:fs/promises'
import {dirname} from 'node:path'

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
  /** Called for every firing alert; the drift work hooks retraining in here. */
  onFiring?: (alert: WebhookAlert) => Promise<void>
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
    const alerts = body.alerts as WebhookAlert[]
    const receivedAt = new Date().toISOString()
    const lines = alerts.map((a) => JSON.stringify({receivedAt, receiver: body.receiver ?? null, status: a.status, labels: a.labels, annotations: a.annotations ?? {}, startsAt: a.startsAt, endsAt: a.endsAt, fingerprint: a.fingerprint}))
    await mkdir(dirname(deps.file), {recursive: true})
    // One append per request: each line is complete; concurrent requests never interleave a line.
    if (lines.length) await appendFile(deps.file, lines.join('\n') + '\n')
    for (const a of alerts) deps.log(`${a.status} ${a.labels?.alertname ?? '?'} ${JSON.stringify(a.labels ?? {})}`)
    if (deps.slackWebhookUrl && alerts.length) {
      const text = alerts.map((a) => `*${a.status.toUpperCase()}* ${a.labels?.alertname ?? ''}: ${a.annotations?.summary ?? a.annotations?.description ?? ''}`).join('\n')
      await axios.post(deps.slackWebhookUrl, {text}, {timeout: 5000}).catch((error: Error) => deps.log(`slack forward failed: ${error.message}`))
    }
    for (const a of alerts.filter((x) => x.status === 'firing')) await deps.onFiring?.(a).catch((error: Error) => deps.log(`alert hook failed: ${error.message}`))
    res.json({received: alerts.length})
  })
  app.use((_req, res) => {
    res.status(404).json({error: 'not found'})
  })
  app.use((err: Error & {type?: string}, _req: Request, res: Response, _next: NextFunction) => {
    res.status(err.type === 'entity.parse.failed' ? 400 : 500).json({error: err.type === 'entity.parse.failed' ? `body is not valid JSON: ${err.message}` : 'internal error'})
  })
  return app
}
