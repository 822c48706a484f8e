import {Flags} from '@oclif/core'
import {join} from 'node:path'

import {RpsCommand} from '../lib/cli/base-command.js'
import {ExitCode, RpsError} from '../lib/errors.js'
import {liveErrorsPath} from '../lib/live/live-errors.js'
import {LiveBandsWatcher} from '../lib/serve/live-bands.js'
import {PredictionLogWriter} from '../lib/live/prediction-log.js'
import {modelSection} from '../lib/model/settings.js'
import {createHandler, parseByteLimit} from '../lib/serve/app.js'
import {ServiceMetrics} from '../lib/serve/metrics.js'
import {referenceMae} from '../lib/model/model-dir.js'
import {ModelHolder} from '../lib/serve/model-holder.js'
import type {ModelIdentity} from '../lib/serve/served-model.js'
import {listen} from '../lib/serve/server.js'
import {rpsVersion} from '../lib/util/versions.js'
import {workDir} from '../lib/util/project.js'

export interface ServeResult {
  /** Empty with --check (nothing listened). */
  url: string
  /** SIGTERM / SIGINT, or "check". */
  stoppedBy: string
  model?: ModelIdentity
}

export default class Serve extends RpsCommand {
  static summary = 'Serve forecasts over HTTP: /predict /health /ready /model /metrics /openapi.json /admin/reload.'

  static description = `Loads the model from --model-dir, or the registry alias (default @champion) through MLflow, and refuses
to start when neither is usable. With an alias it polls the registry every --poll-seconds and hot-reloads a
new version after loading and validating it; POST /admin/reload (Authorization: Bearer $RPS_ADMIN_TOKEN)
does the same on demand. A broken new model is rejected and the old one keeps serving. SIGTERM stops
accepting connections, lets requests in flight finish and exits. With --prediction-log (or $RPS_PREDICTION_LOG)
every prediction made from observations is appended to that JSON-lines log, which rps forecast scores once
the target hour is observed; /metrics exposes the resulting live errors (--live-errors-file) as
rps_live_error_* gauges. A model whose files differ from the sha256 digests recorded at registration
(version tag rps.artifact_digests, or registry.json beside --model-dir) is refused and counted in
rps_model_digest_mismatch_total; one without recorded digests (registered before they were) is
served with a warning and rps_model_unverified 1. --check loads, verifies and validates, then exits.`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --model-dir build/model --host 0.0.0.0 --port 8000',
    '<%= config.bin %> <%= command.id %> --alias challenger --poll-seconds 10',
  ]

  static flags = {
    'model-dir': Flags.string({summary: 'Serve this local model directory (no registry needed).'}),
    alias: Flags.string({summary: 'Registry alias to serve and watch.', default: 'champion'}),
    host: Flags.string({summary: 'Address to listen on.', default: '127.0.0.1'}),
    port: Flags.integer({summary: 'Port (default: $RPS_API_PORT, else 8000).', env: 'RPS_API_PORT', default: 8000, min: 0, max: 65_535}),
    'poll-seconds': Flags.integer({summary: 'How often to check the alias for a new version (0: never).', default: 30, min: 0}),
    'max-instances': Flags.integer({summary: 'Most instances in one /predict request.', default: 1000, min: 1}),
    'body-limit': Flags.string({summary: 'Largest accepted request body (default: what --max-instances feature instances of the model take, full-precision numbers).'}),
    'prediction-log': Flags.string({summary: 'Append predictions made from observations to this JSON-lines log (default: $RPS_PREDICTION_LOG; unset: no log).', env: 'RPS_PREDICTION_LOG'}),
    'live-errors-file': Flags.string({summary: 'Live errors written by rps forecast, exposed as rps_live_error_* (default: $RPS_LIVE_ERRORS_FILE, else reports/live/live-errors.json).', env: 'RPS_LIVE_ERRORS_FILE'}),
    'drift-report': Flags.string({summary: 'Drift report written by rps drift, exposed as rps_drift_* (default: $RPS_DRIFT_REPORT, else reports/drift/drift.json).', env: 'RPS_DRIFT_REPORT'}),
    check: Flags.boolean({summary: 'Load, verify (recorded sha256 digests) and validate the model, then exit without listening (0: usable).'}),
    'debug-delay-ms': Flags.integer({summary: 'Add this latency to /predict (for alert tests only).', hidden: true, min: 0}),
  }

  async run(): Promise<ServeResult> {
    const {flags} = await this.parse(Serve)
    const params = this.loadParams(flags.params)
    if (flags['body-limit'] !== undefined) {
      try {
        parseByteLimit(flags['body-limit'])
      } catch (error) {
        throw new RpsError(`--body-limit: ${(error as Error).message}`, {code: 'USAGE', exitCode: ExitCode.usage})
      }
    }
    const log = (line: string) => this.logToStderr(`[rps serve] ${new Date().toISOString()} ${line}`)
    const metrics = new ServiceMetrics()
    if (flags.check) return this.check(flags['model-dir'], flags.alias, modelSection(params).registered_name, flags['max-instances'], metrics, log)
    metrics.watchLiveErrors(flags['live-errors-file'] ?? liveErrorsPath(), log)
    metrics.watchDriftReport(flags['drift-report'] ?? join(workDir(), 'reports/drift/drift.json'), log)
    const holder = new ModelHolder({
      modelDir: flags['model-dir'], alias: flags.alias, registeredName: modelSection(params).registered_name,
      limits: {maxInstances: flags['max-instances']},
    }, metrics, log)
    try {
      await holder.reload()
    } catch (error) {
      throw new RpsError(`cannot start: ${(error as Error).message}`, {code: 'NO_MODEL', suggestions: ['pass --model-dir <dir> (rps export-model writes one), or set MLFLOW_TRACKING_URI and promote a model']})
    }
    metrics.trackValidationMae(() => {
      const meta = holder.current?.model.meta
      return meta ? referenceMae(meta) : undefined
    })
    const predictionLog = flags['prediction-log'] ? new PredictionLogWriter(flags['prediction-log'], log, () => metrics.predictionLogFailures.inc()) : undefined
    if (predictionLog) log(`logging predictions made from observations to ${predictionLog.path}`)
    const bodyLimit = flags['body-limit'] ?? `${Math.ceil(holder.current!.largestFeatureBody() / 1024)}kb`
    log(`request bodies up to ${bodyLimit}, ${flags['max-instances']} instances`)
    const app = createHandler({
      holder, metrics, adminToken: process.env.RPS_ADMIN_TOKEN || undefined, bodyLimit, version: rpsVersion(), log,
      predictionLog, debugDelayMs: flags['debug-delay-ms'],
    })
    // The bands in /predict answers follow the live ones rps forecast keeps calibrated (read before the first request, then every 30 s).
    const liveBands = new LiveBandsWatcher(flags['live-errors-file'] ?? liveErrorsPath(), () => holder.current, log)
    await liveBands.refresh()
    const running = await listen(app, flags.host, flags.port)
    log(`listening on ${running.url}`)
    const bandsTimer = setInterval(() => void liveBands.refresh(), 30_000)
    bandsTimer.unref()
    let poller: NodeJS.Timeout | undefined
    if (!flags['model-dir'] && flags['poll-seconds'] > 0) {
      poller = setInterval(() => {
        holder.reload().catch(() => undefined)
      }, flags['poll-seconds'] * 1000)
    }
    const stoppedBy = await new Promise<string>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'))
      process.once('SIGINT', () => resolve('SIGINT'))
    })
    log(`${stoppedBy}: draining`)
    if (poller) clearInterval(poller)
    clearInterval(bandsTimer)
    await running.shutdown()
    await predictionLog?.flush()
    log('stopped')
    return {url: running.url, stoppedBy}
  }

  /** --check: what the image build runs, so a tampered or broken model fails the build, not the first request. */
  private async check(modelDir: string | undefined, alias: string, registeredName: string, maxInstances: number, metrics: ServiceMetrics, log: (line: string) => void): Promise<ServeResult> {
    const holder = new ModelHolder({modelDir, alias, registeredName, limits: {maxInstances}}, metrics, log)
    try {
      await holder.reload()
    } catch (error) {
      throw new RpsError(`model check failed: ${(error as Error).message}`, {code: 'NO_MODEL'})
    }
    const model = holder.current!.identity
    this.note(`model ok: ${model.name} v${model.version} ${model.verified ? 'verified against its recorded sha256 digests' : 'UNVERIFIED (no recorded digests)'}`)
    return {url: '', stoppedBy: 'check', model}
  }
}
