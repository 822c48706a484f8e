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

interface ErrorStatsDoc {
  mae?: number | null
  rmse?: number | null
  n?: number
}

interface LiveErrorsDoc {
  updated_at?: string
  windows?: Record<string, {model?: ErrorStatsDoc; persistence?: ErrorStatsDoc}>
  by_horizon?: Record<string, {windows?: Record<string, {model?: ErrorStatsDoc; coverage?: Record<string, number | null>; with_bands?: number}>}> | null
  intervals?: {by_horizon?: Record<string, Record<string, {alpha?: number; halfWidth?: number}>>} | null
}

/**
 * Label values of the per-horizon gauges come from our own file, but a corrupt one must not explode
 * the series count: at most this many horizons, levels and windows, each of a plain shape.
 */
const MAX_LABEL_ENTRIES = 48
const HORIZON_LABEL = /^[1-9]\d{0,3}$/
const WINDOW_LABEL = /^[A-Za-z0-9_]{1,16}$/

/** The entries of an object whose key has the shape a label value may take, at most MAX_LABEL_ENTRIES. */
function labelled<T>(record: unknown, valid: (key: string) => boolean): [string, T][] {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return []
  return (Object.entries(record) as [string, T][]).filter(([key]) => valid(key)).slice(0, MAX_LABEL_ENTRIES)
}

/** A band level as a label ("0.8") and its number, when it is a probability. */
function isLevel(key: string): boolean {
  const level = Number(key)
  return key.length <= 8 && Number.isFinite(level) && level > 0 && level < 1
}

const isHorizon = (key: string) => HORIZON_LABEL.test(key)
const isWindow = (key: string) => WINDOW_LABEL.test(key)

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
  readonly horizonRmse: Gauge<'window' | 'horizon'>
  readonly horizonMae: Gauge<'window' | 'horizon'>
  readonly horizonSamples: Gauge<'window' | 'horizon'>
  readonly coverageSamples: Gauge<'window' | 'horizon'>
  readonly coverage: Gauge<'window' | 'horizon' | 'level'>
  readonly coverageShortfall: Gauge<'window' | 'horizon' | 'level'>
  readonly intervalHalfWidth: Gauge<'horizon' | 'level'>
  readonly intervalAlpha: Gauge<'horizon' | 'level'>
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
    const byHorizon = {labelNames: ['window', 'horizon'] as const, registers, collect: collectLive}
    this.horizonRmse = new Gauge({name: 'rps_live_horizon_error_rmse', help: 'Live RMSE of the logged forecasts of each horizon (hours ahead) whose target is observed, by window (24h, 7d of target times)', ...byHorizon})
    this.horizonMae = new Gauge({name: 'rps_live_horizon_error_mae', help: 'Live MAE of the logged forecasts of each horizon (hours ahead) whose target is observed, by window', ...byHorizon})
    this.horizonSamples = new Gauge({name: 'rps_live_horizon_error_samples', help: 'Scored forecasts of each horizon in the live error window', ...byHorizon})
    this.coverageSamples = new Gauge({name: 'rps_live_interval_samples', help: 'Scored forecasts of each horizon in the window that carried bands (what its coverage is measured on)', ...byHorizon})
    const byLevel = {labelNames: ['window', 'horizon', 'level'] as const, registers, collect: collectLive}
    this.coverage = new Gauge({name: 'rps_live_interval_coverage_ratio', help: 'Share of the scored forecasts of a horizon whose observed value fell inside their band of this level (0.8, 0.95), by window', ...byLevel})
    this.coverageShortfall = new Gauge({name: 'rps_live_interval_coverage_shortfall', help: 'Band level minus its live coverage (positive: the band covers less often than it claims), by window, horizon and level', ...byLevel})
    const band = {labelNames: ['horizon', 'level'] as const, registers, collect: collectLive}
    this.intervalHalfWidth = new Gauge({name: 'rps_interval_half_width', help: 'Half-width (in the target\'s unit) of the served model\'s next live band per horizon and level (adaptive conformal inference)', ...band})
    this.intervalAlpha = new Gauge({name: 'rps_interval_aci_alpha', help: 'The miscoverage rate adaptive conformal inference aims the next live band at (starts at 1 - level), per horizon and level', ...band})
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
    this.showHorizons(doc)
  }

  /** The per-horizon gauges (absent from older files, which then show none of them). */
  private showHorizons(doc: LiveErrorsDoc): void {
    const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
    for (const [horizon, h] of labelled<{windows?: unknown}>(doc.by_horizon, isHorizon)) {
      type WindowDoc = {model?: ErrorStatsDoc; coverage?: unknown; with_bands?: unknown}
      for (const [window, w] of labelled<WindowDoc | null>(h?.windows, isWindow)) {
        const labels = {window, horizon}
        if (finite(w?.model?.n)) this.horizonSamples.set(labels, w.model.n)
        if (finite(w?.model?.mae)) this.horizonMae.set(labels, w.model.mae)
        if (finite(w?.model?.rmse)) this.horizonRmse.set(labels, w.model.rmse)
        if (finite(w?.with_bands)) this.coverageSamples.set(labels, w.with_bands)
        for (const [level, coverage] of labelled<unknown>(w?.coverage, isLevel)) {
          if (!finite(coverage)) continue
          this.coverage.set({...labels, level}, coverage)
          this.coverageShortfall.set({...labels, level}, Number(level) - coverage)
        }
      }
    }
    const intervals = typeof doc.intervals === 'object' && doc.intervals !== null ? doc.intervals.by_horizon : undefined
    for (const [horizon, levels] of labelled<unknown>(intervals, isHorizon)) {
      for (const [level, b] of labelled<{alpha?: unknown; halfWidth?: unknown} | null>(levels, isLevel)) {
        if (finite(b?.halfWidth)) this.intervalHalfWidth.set({horizon, level}, b.halfWidth)
        if (finite(b?.alpha)) this.intervalAlpha.set({horizon, level}, b.alpha)
      }
    }
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
    for (const gauge of [this.horizonRmse, this.horizonMae, this.horizonSamples, this.coverageSamples, this.coverage, this.coverageShortfall, this.intervalHalfWidth, this.intervalAlpha]) gauge.reset()
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
