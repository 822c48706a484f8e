import {readFile, stat} from 'node:fs/promises'
import {Counter, Gauge, Histogram, Registry, collectDefaultMetrics} from 'prom-client'

/** A gauge without labels that is absent from the exposition until set (prom-client shows 0 otherwise). */
class OptionalGauge extends Gauge {
  private present = false

  setOrClear(value: number | undefined): void {
    this.present = value !== undefined && Number.isFinite(value)
    if (this.present) this.set(value!)
  }

  override async get() {
    const metric = await super.get()
    return this.present ? metric : {...metric, values: []}
  }
}

interface LiveErrorsDoc {
  updated_at?: string
  windows?: Record<string, {model?: {mae?: number | null; rmse?: number | null; n?: number}; persistence?: {mae?: number | null; rmse?: number | null; n?: number}}>
}

/** The service's Prometheus metrics, on a registry of its own (names in base units, rps_ prefix). */
export class ServiceMetrics {
  readonly registry = new Registry()
  readonly requestDuration: Histogram<'route' | 'method' | 'status'>
  readonly requests: Counter<'route' | 'method' | 'status'>
  readonly predictions: Counter
  readonly predictionRequests: Counter
  readonly predictionRequestsOod: Counter
  readonly oodRatio: Gauge
  readonly featureOod: Counter<'feature'>
  readonly modelInfo: Gauge<'name' | 'version' | 'alias' | 'trigger'>
  readonly lastReload: Gauge
  readonly liveMae: Gauge<'window' | 'model'>
  readonly liveRmse: Gauge<'window' | 'model'>
  readonly liveSamples: Gauge<'window'>
  readonly liveUpdated: OptionalGauge
  readonly validationMae: OptionalGauge
  readonly predictionLogFailures: Counter
  private readonly window: boolean[] = []
  private live: {path: string; log: (line: string) => void; key?: string; inflight?: Promise<void>} | undefined
  private validationMaeOf: () => number | undefined = () => undefined

  constructor(private readonly windowSize = 100) {
    collectDefaultMetrics({register: this.registry})
    const registers = [this.registry]
    this.requestDuration = new Histogram({
      name: 'rps_http_request_duration_seconds', help: 'HTTP request latency by route template, method and status',
      labelNames: ['route', 'method', 'status'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers,
    })
    this.requests = new Counter({name: 'rps_http_requests_total', help: 'HTTP requests by route template, method and status', labelNames: ['route', 'method', 'status'], registers})
    this.predictions = new Counter({name: 'rps_predictions_total', help: 'Predicted instances', registers})
    this.predictionRequests = new Counter({name: 'rps_prediction_requests_total', help: 'Prediction requests answered', registers})
    this.predictionRequestsOod = new Counter({name: 'rps_prediction_requests_ood_total', help: 'Prediction requests with at least one feature outside the training range', registers})
    this.oodRatio = new Gauge({name: 'rps_ood_ratio', help: `Share of the last ${windowSize} prediction requests with an out-of-distribution feature`, registers})
    this.featureOod = new Counter({name: 'rps_feature_ood_total', help: 'Out-of-distribution values by feature', labelNames: ['feature'], registers})
    this.modelInfo = new Gauge({name: 'rps_model_info', help: 'The model being served (value 1) and the trigger of its promotion', labelNames: ['name', 'version', 'alias', 'trigger'], registers})
    this.lastReload = new Gauge({name: 'rps_model_last_reload_timestamp_seconds', help: 'When the current model was loaded (Unix time)', registers})
    const collectLive = () => this.refreshLiveErrors()
    this.liveMae = new Gauge({name: 'rps_live_error_mae', help: 'Live MAE of logged forecasts whose target is observed, by window (24h, 7d of target times) and model (model, persistence)', labelNames: ['window', 'model'], registers, collect: collectLive})
    this.liveRmse = new Gauge({name: 'rps_live_error_rmse', help: 'Live RMSE of logged forecasts whose target is observed, by window and model (model, persistence)', labelNames: ['window', 'model'], registers, collect: collectLive})
    this.liveSamples = new Gauge({name: 'rps_live_error_samples', help: 'Scored forecasts in the live error window', labelNames: ['window'], registers, collect: collectLive})
    this.liveUpdated = new OptionalGauge({name: 'rps_live_error_updated_timestamp_seconds', help: 'When the live errors were last computed by rps forecast (Unix time)', registers, collect: collectLive})
    this.validationMae = new OptionalGauge({
      name: 'rps_model_validation_mae', help: 'Validation MAE of the served model (from its metadata)', registers,
      collect: () => this.validationMae.setOrClear(this.validationMaeOf()),
    })
    this.predictionLogFailures = new Counter({name: 'rps_prediction_log_failures_total', help: 'Prediction batches that could not be appended to the prediction log', registers})
    this.oodRatio.set(0)
  }

  /** rps_model_validation_mae reads the served model's validation MAE through this at every scrape. */
  trackValidationMae(source: () => number | undefined): void {
    this.validationMaeOf = source
  }

  /** Serve the live error gauges from this file (written by rps forecast), read at scrape time when it changed. */
  watchLiveErrors(path: string, log: (line: string) => void): void {
    this.live = {path, log}
  }

  private refreshLiveErrors(): Promise<void> {
    const live = this.live
    if (!live) return Promise.resolve()
    // One read per scrape however many gauges ask.
    live.inflight ??= this.loadLiveErrors(live).finally(() => {
      live.inflight = undefined
    })
    return live.inflight
  }

  private async loadLiveErrors(live: NonNullable<typeof this.live>): Promise<void> {
    let key: string
    try {
      const info = await stat(live.path)
      key = `${info.ino}:${info.size}:${info.mtimeMs}`
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        if (live.key !== undefined) this.clearLiveErrors()
        live.key = undefined
      } else if (live.key !== 'unreadable') {
        live.key = 'unreadable'
        live.log(`cannot read live errors from ${live.path}: ${(error as Error).message}; keeping the last values`)
      }
      return
    }
    if (key === live.key) return
    live.key = key
    let doc: LiveErrorsDoc
    try {
      doc = JSON.parse(await readFile(live.path, 'utf8')) as LiveErrorsDoc
      if (typeof doc !== 'object' || doc === null || typeof doc.windows !== 'object' || doc.windows === null) throw new Error('no "windows" object')
    } catch (error) {
      live.log(`cannot read live errors from ${live.path}: ${(error as Error).message}; keeping the last values`)
      return
    }
    this.clearLiveErrors()
    const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
    for (const [window, w] of Object.entries(doc.windows!)) {
      if (finite(w?.model?.n)) this.liveSamples.set({window}, w.model.n)
      for (const model of ['model', 'persistence'] as const) {
        const stats = w?.[model]
        if (finite(stats?.mae)) this.liveMae.set({window, model}, stats.mae)
        if (finite(stats?.rmse)) this.liveRmse.set({window, model}, stats.rmse)
      }
    }
    const updated = Date.parse(doc.updated_at ?? '')
    this.liveUpdated.setOrClear(Number.isNaN(updated) ? undefined : updated / 1000)
  }

  private clearLiveErrors(): void {
    this.liveMae.reset()
    this.liveRmse.reset()
    this.liveSamples.reset()
    this.liveUpdated.setOrClear(undefined)
  }

  /** Records one prediction request: whether any of its instances had an OOD feature. */
  recordPredictionRequest(instances: number, oodFeatures: string[]): void {
    this.predictions.inc(instances)
    this.predictionRequests.inc()
    const ood = oodFeatures.length > 0
    if (ood) this.predictionRequestsOod.inc()
    for (const f of oodFeatures) this.featureOod.inc({feature: f})
    this.window.push(ood)
    if (this.window.length > this.windowSize) this.window.shift()
    this.oodRatio.set(this.window.filter(Boolean).length / this.window.length)
  }

  setModel(name: string, version: string, alias: string, trigger = 'unknown'): void {
    this.modelInfo.reset()
    this.modelInfo.set({name, version, alias, trigger}, 1)
    this.lastReload.set(Date.now() / 1000)
  }
}
