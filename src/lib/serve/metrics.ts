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

/** The part of reports/drift/drift.json (rps drift) the drift gauges show. */
interface DriftDoc {
  checkedAt?: string
  overall?: {psi?: Record<string, number>} | null
  psiThresholds?: Record<string, number>
  dataDrift?: boolean
  conceptDrift?: boolean
  modelAgeHours?: number | null
  decision?: {retrain?: boolean; trigger?: string | null}
}

/** A JSON file re-read at scrape time only when it changed (inode, size, mtime). */
interface WatchedFile {
  path: string
  what: string
  log: (line: string) => void
  key?: string
  inflight?: Promise<void>
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
  readonly digestMismatches: Counter
  readonly modelUnverified: Gauge
  readonly unsealedRefusals: Counter
  readonly driftPsi: Gauge<'variable'>
  readonly driftPsiThreshold: Gauge<'variable'>
  readonly driftRetrain: Gauge<'trigger'>
  readonly driftDetected: Gauge<'kind'>
  readonly driftModelAge: OptionalGauge
  readonly driftChecked: OptionalGauge
  private readonly window: boolean[] = []
  private windowOod = 0
  // One pair of labelled children per (route, method, status): found by a string key, not by hashing labels.
  private readonly httpSeries = new Map<string, {duration: {observe(v: number): void}; count: {inc(): void}}>()
  private live: WatchedFile | undefined
  private drift: WatchedFile | undefined
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
    const collectDrift = () => this.refresh(this.drift, (doc) => this.showDrift(doc as DriftDoc), () => this.clearDrift())
    this.driftPsi = new Gauge({name: 'rps_drift_psi', help: 'Window PSI per monitored variable at the newest rps drift check (reports/drift/drift.json)', labelNames: ['variable'], registers, collect: collectDrift})
    this.driftPsiThreshold = new Gauge({name: 'rps_drift_psi_threshold', help: 'The served model\'s own calibrated window PSI threshold per variable (data drift above it)', labelNames: ['variable'], registers, collect: collectDrift})
    this.driftRetrain = new Gauge({name: 'rps_drift_retrain', help: 'The newest drift decision: 1 retrain due, 0 not; label trigger (concept_drift, data_drift, max_age, ...; none)', labelNames: ['trigger'], registers, collect: collectDrift})
    this.driftDetected = new Gauge({name: 'rps_drift_detected', help: 'Drift seen by the newest check (1/0), by kind: data (window PSI) or concept (errors)', labelNames: ['kind'], registers, collect: collectDrift})
    this.driftModelAge = new OptionalGauge({name: 'rps_drift_model_age_seconds', help: 'Age of the examined model at the newest drift check: its data end to the check window end', registers, collect: collectDrift})
    this.driftChecked = new OptionalGauge({name: 'rps_drift_checked_timestamp_seconds', help: 'When the newest drift check ran (Unix time)', registers, collect: collectDrift})
    this.predictionLogFailures = new Counter({name: 'rps_prediction_log_failures_total', help: 'Prediction batches that could not be appended to the prediction log', registers})
    this.digestMismatches = new Counter({name: 'rps_model_digest_mismatch_total', help: 'Models refused because a file did not match the sha256 recorded at registration (the old model kept serving)', registers})
    this.modelUnverified = new Gauge({name: 'rps_model_unverified', help: 'The served model has no recorded artifact digests, so its files were not verified (1) or were (0)', registers})
    this.unsealedRefusals = new Counter({name: 'rps_model_unsealed_refusals_total', help: 'Alias moves refused because the version carries no valid promotion seal (RPS_PROMOTION_KEY set)', registers})
    this.oodRatio.set(0)
  }

  /** rps_model_validation_mae reads the served model's validation MAE through this at every scrape. */
  trackValidationMae(source: () => number | undefined): void {
    this.validationMaeOf = source
  }

  /** Serve the live error gauges from this file (written by rps forecast), read at scrape time when it changed. */
  watchLiveErrors(path: string, log: (line: string) => void): void {
    this.live = {path, what: 'live errors', log}
  }

  /** Serve the drift gauges from this drift report (written by rps drift), read at scrape time when it changed. */
  watchDriftReport(path: string, log: (line: string) => void): void {
    this.drift = {path, what: 'the drift report', log}
  }

  private refreshLiveErrors(): Promise<void> {
    return this.refresh(this.live, (doc) => this.showLiveErrors(doc as LiveErrorsDoc), () => this.clearLiveErrors())
  }

  private refresh(file: WatchedFile | undefined, show: (doc: unknown) => void, clear: () => void): Promise<void> {
    if (!file) return Promise.resolve()
    // One read per scrape however many gauges ask.
    file.inflight ??= this.load(file, show, clear).finally(() => {
      file.inflight = undefined
    })
    return file.inflight
  }

  private async load(file: WatchedFile, show: (doc: unknown) => void, clear: () => void): Promise<void> {
    let key: string
    try {
      const info = await stat(file.path)
      key = `${info.ino}:${info.size}:${info.mtimeMs}`
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        if (file.key !== undefined) clear()
        file.key = undefined
      } else if (file.key !== 'unreadable') {
        file.key = 'unreadable'
        file.log(`cannot read ${file.what} from ${file.path}: ${(error as Error).message}; keeping the last values`)
      }
      return
    }
    if (key === file.key) return
    file.key = key
    let doc: unknown
    try {
      doc = JSON.parse(await readFile(file.path, 'utf8'))
      if (typeof doc !== 'object' || doc === null) throw new Error('not a JSON object')
      show(doc)
    } catch (error) {
      file.log(`cannot read ${file.what} from ${file.path}: ${(error as Error).message}; keeping the last values`)
    }
  }

  private showLiveErrors(doc: LiveErrorsDoc): void {
    if (typeof doc.windows !== 'object' || doc.windows === null) throw new Error('no "windows" object')
    this.clearLiveErrors()
    const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
    for (const [window, w] of Object.entries(doc.windows)) {
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

  private showDrift(doc: DriftDoc): void {
    if (typeof doc.decision !== 'object' || doc.decision === null) throw new Error('no "decision" object')
    this.clearDrift()
    const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
    for (const [variable, value] of Object.entries(doc.overall?.psi ?? {})) if (finite(value)) this.driftPsi.set({variable}, value)
    for (const [variable, value] of Object.entries(doc.psiThresholds ?? {})) if (finite(value)) this.driftPsiThreshold.set({variable}, value)
    // One series per decision: its trigger label says why (none when no retrain is due).
    this.driftRetrain.set({trigger: doc.decision.trigger ?? 'none'}, doc.decision.retrain ? 1 : 0)
    if (typeof doc.dataDrift === 'boolean') this.driftDetected.set({kind: 'data'}, doc.dataDrift ? 1 : 0)
    if (typeof doc.conceptDrift === 'boolean') this.driftDetected.set({kind: 'concept'}, doc.conceptDrift ? 1 : 0)
    this.driftModelAge.setOrClear(finite(doc.modelAgeHours) ? doc.modelAgeHours * 3600 : undefined)
    const checked = Date.parse(doc.checkedAt ?? '')
    this.driftChecked.setOrClear(Number.isNaN(checked) ? undefined : checked / 1000)
  }

  private clearDrift(): void {
    this.driftPsi.reset()
    this.driftPsiThreshold.reset()
    this.driftRetrain.reset()
    this.driftDetected.reset()
    this.driftModelAge.setOrClear(undefined)
    this.driftChecked.setOrClear(undefined)
  }

  private clearLiveErrors(): void {
    this.liveMae.reset()
    this.liveRmse.reset()
    this.liveSamples.reset()
    this.liveUpdated.setOrClear(undefined)
  }

  /** Records one answered HTTP request under its route template ('unmatched' when none). */
  recordHttp(route: string, method: string, status: number, seconds: number): void {
    const key = `${route} ${method} ${status}`
    let series = this.httpSeries.get(key)
    if (!series) {
      const labels = {route, method, status: String(status)}
      series = {duration: this.requestDuration.labels(labels), count: this.requests.labels(labels)}
      // Bounded: routes are templates and methods/statuses few, but a client choosing methods must not grow it forever.
      if (this.httpSeries.size < 1000) this.httpSeries.set(key, series)
    }
    series.duration.observe(seconds)
    series.count.inc()
  }

  /** Records one prediction request: whether any of its instances had an OOD feature. */
  recordPredictionRequest(instances: number, oodFeatures: string[]): void {
    this.predictions.inc(instances)
    this.predictionRequests.inc()
    const ood = oodFeatures.length > 0
    if (ood) this.predictionRequestsOod.inc()
    for (const f of oodFeatures) this.featureOod.inc({feature: f})
    this.window.push(ood)
    if (ood) this.windowOod++
    if (this.window.length > this.windowSize && this.window.shift()) this.windowOod--
    this.oodRatio.set(this.windowOod / this.window.length)
  }

  setModel(name: string, version: string, alias: string, trigger = 'unknown'): void {
    this.modelInfo.reset()
    this.modelInfo.set({name, version, alias, trigger}, 1)
    this.lastReload.set(Date.now() / 1000)
  }
}
