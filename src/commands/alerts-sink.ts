import {Flags} from '@oclif/core'
import {join, resolve} from 'node:path'

import {RpsCommand} from '../lib/cli/base-command.js'
import {DEFAULT_RETRAIN_COOLDOWN_SECONDS, RETRAIN_DAG_ID, retrainHook} from '../lib/alerts/retrain-trigger.js'
import {DEFAULT_BODY_LIMIT_BYTES, DEFAULT_MAX_FILE_BYTES, createSinkApp, resolveSinkToken} from '../lib/alerts/sink.js'
import {listen} from '../lib/serve/server.js'
import {workDir} from '../lib/util/project.js'

export default class AlertsSink extends RpsCommand {
  static summary = 'Receive Alertmanager/Grafana webhooks, append each alert as a JSON line, and trigger retraining for rps_action="retrain" alerts.'

  static description = `POST /alerts takes the standard webhook body ({"alerts": [...]}) and appends one JSON line per alert
(receivedAt, status, labels, annotations, startsAt, endsAt) to --file. With RPS_SLACK_WEBHOOK_URL set, each
batch is also forwarded to Slack, its text escaped (no <!channel>, mention or link gets through). SIGTERM stops it.

Every POST needs "Authorization: Bearer $RPS_ALERT_SINK_TOKEN" (Alertmanager: http_config.authorization);
without it, or with another token: 401, nothing read or written. Without RPS_ALERT_SINK_TOKEN the sink does not
start, unless --insecure-no-auth on a loopback --host. Bodies over --max-body-bytes: 413. When --file would
grow past --max-file-bytes it is renamed to <file>.1 (replacing the previous one) and a new file begun.

With --airflow-url (RPS_AIRFLOW_URL), a FIRING alert labelled rps_action="retrain" (RpsConceptDrift) triggers a
run of the Airflow DAG ${RETRAIN_DAG_ID} through the Airflow 3 REST API, with run conf {"retrain": "always",
"triggered_by": "alert:<alertname>"}: but not while a run of ${RETRAIN_DAG_ID} is queued or running, and not
within --retrain-cooldown seconds of the last run triggered here (kept in <file>.retrain-state.json beside
--file, so a restart does not trigger again). The decision (triggered run id, or skipped and why) is added to
the alert's JSON line as "retrain" and logged. Airflow unreachable or failing (5xx, timeout): 503, so
Alertmanager retries; Airflow refusing the request (bad credentials, unknown DAG): logged, 200, retried when
the alert is sent again. Token: POST /auth/token with RPS_AIRFLOW_USERNAME/RPS_AIRFLOW_PASSWORD, or without
them GET /auth/token (the local Airflow of scripts/airflow.sh makes everyone admin).`

  static examples = [
    'RPS_ALERT_SINK_TOKEN=$(openssl rand -hex 32) <%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --insecure-no-auth --port 9095 --file .rps/state/alerts.jsonl',
    'RPS_AIRFLOW_URL=http://127.0.0.1:8080 <%= config.bin %> <%= command.id %> --retrain-cooldown 86400',
  ]

  static flags = {
    host: Flags.string({summary: 'Address to listen on.', default: '127.0.0.1'}),
    port: Flags.integer({summary: 'Port (default: $RPS_ALERT_SINK_PORT, else 9095).', env: 'RPS_ALERT_SINK_PORT', default: 9095, min: 0, max: 65_535}),
    file: Flags.string({summary: 'JSON-lines file the alerts are appended to (default: .rps/state/alerts.jsonl).'}),
    'insecure-no-auth': Flags.boolean({summary: 'Accept POSTs without a token when RPS_ALERT_SINK_TOKEN is unset (loopback --host only).', default: false}),
    'max-file-bytes': Flags.integer({summary: `Rotate --file to <file>.1 past this size (default: $RPS_ALERT_SINK_MAX_FILE_BYTES, else ${DEFAULT_MAX_FILE_BYTES}).`, env: 'RPS_ALERT_SINK_MAX_FILE_BYTES', default: DEFAULT_MAX_FILE_BYTES, min: 1024}),
    'max-body-bytes': Flags.integer({summary: `Largest webhook body accepted (default ${DEFAULT_BODY_LIMIT_BYTES}).`, default: DEFAULT_BODY_LIMIT_BYTES, min: 1024}),
    'airflow-url': Flags.string({summary: 'Airflow api-server that rps_action="retrain" alerts trigger a DAG run on (default: $RPS_AIRFLOW_URL; unset: alerts are only recorded).', env: 'RPS_AIRFLOW_URL'}),
    'retrain-cooldown': Flags.integer({
      summary: `Seconds after a triggered run during which retrain alerts trigger nothing (default: $RPS_RETRAIN_TRIGGER_COOLDOWN_SECONDS, else ${DEFAULT_RETRAIN_COOLDOWN_SECONDS}).`,
      env: 'RPS_RETRAIN_TRIGGER_COOLDOWN_SECONDS', default: DEFAULT_RETRAIN_COOLDOWN_SECONDS, min: 0,
    }),
  }

  async run(): Promise<{url: string; file: string; airflowUrl: string | null; authenticated: boolean}> {
    const {flags} = await this.parse(AlertsSink)
    const token = resolveSinkToken({token: process.env.RPS_ALERT_SINK_TOKEN, insecureNoAuth: flags['insecure-no-auth'], host: flags.host})
    const file = resolve(flags.file ?? join(workDir(), '.rps/state/alerts.jsonl'))
    const log = (line: string) => this.logToStderr(`[rps alerts-sink] ${new Date().toISOString()} ${line}`)
    const trigger = retrainHook({
      airflowUrl: flags['airflow-url'] || undefined, username: process.env.RPS_AIRFLOW_USERNAME || undefined, password: process.env.RPS_AIRFLOW_PASSWORD || undefined,
      cooldownSeconds: flags['retrain-cooldown'], alertsFile: file, log,
    })
    const app = createSinkApp({
      file, token, maxFileBytes: flags['max-file-bytes'], bodyLimitBytes: flags['max-body-bytes'], slackWebhookUrl: process.env.RPS_SLACK_WEBHOOK_URL || undefined, log, ...(trigger ? {onFiring: (a) => trigger.handle(a)} : {})})
    const running = await listen(app, flags.host, flags.port)
    log(`listening on ${running.url}, appending to ${file}${token === null ? ' (WITHOUT authentication: --insecure-no-auth)' : ''}`)
    log(trigger
      ? `retrain alerts trigger ${trigger.dagId} on ${trigger.airflowUrl} (cooldown ${flags['retrain-cooldown']} s, state ${trigger.stateFile})`
      : 'no Airflow configured (RPS_AIRFLOW_URL): rps_action="retrain" alerts are only recorded')
    await new Promise<void>((r) => {
      process.once('SIGTERM', () => r())
      process.once('SIGINT', () => r())
    })
    await running.shutdown(2000)
    return {url: running.url, file, airflowUrl: trigger?.airflowUrl ?? null, authenticated: token !== null}
  }
}
