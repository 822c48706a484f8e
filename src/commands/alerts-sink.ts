import {Flags} from '@oclif/core'
import {join, resolve} from 'node:path'

import {RpsCommand} from '../lib/cli/base-command.js'
import {createSinkApp} from '../lib/alerts/sink.js'
import {listen} from '../lib/serve/server.js'
import {workDir} from '../lib/util/project.js'

export default class AlertsSink extends RpsCommand {
  static summary = 'Receive Alertmanager/Grafana webhooks and append each alert as a JSON line to a file.'

  static description = `POST /alerts takes the standard webhook body ({"alerts": [...]}) and appends one JSON line per alert
(receivedAt, status, labels, annotations, startsAt, endsAt) to --file. With RPS_SLACK_WEBHOOK_URL set, each
batch is also forwarded to Slack. SIGTERM stops it.`

  static examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --port 9095 --file .rps/state/alerts.jsonl']

  static flags = {
    host: Flags.string({summary: 'Address to listen on.', default: '127.0.0.1'}),
    port: Flags.integer({summary: 'Port (default: $RPS_ALERT_SINK_PORT, else 9095).', env: 'RPS_ALERT_SINK_PORT', default: 9095, min: 0, max: 65_535}),
    file: Flags.string({summary: 'JSON-lines file the alerts are appended to (default: .rps/state/alerts.jsonl).'}),
  }

  async run(): Promise<{url: string; file: string}> {
    const {flags} = await this.parse(AlertsSink)
    const file = resolve(flags.file ?? join(workDir(), '.rps/state/alerts.jsonl'))
    const log = (line: string) => this.logToStderr(`[rps alerts-sink] ${new Date().toISOString()} ${line}`)
    const app = createSinkApp({file, slackWebhookUrl: process.env.RPS_SLACK_WEBHOOK_URL || undefined, log})
    const running = await listen(app, flags.host, flags.port)
    log(`listening on ${running.url}, appending to ${file}`)
    await new Promise<void>((r) => {
      process.once('SIGTERM', () => r())
      process.once('SIGINT', () => r())
    })
    await running.shutdown(2000)
    return {url: running.url, file}
  }
}
