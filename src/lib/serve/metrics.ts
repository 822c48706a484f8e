import {Counter, Gauge, Histogram, Registry, collectDefaultMetrics} from 'prom-client'

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
  readonly modelInfo: Gauge<'name' | 'version' | 'alias'>
  readonly lastReload: Gauge
  private readonly window: boolean[] = []

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
    this.modelInfo = new Gauge({name: 'rps_model_info', help: 'The model being served (value 1)', labelNames: ['name', 'version', 'alias'], registers})
    this.lastReload = new Gauge({name: 'rps_model_last_reload_timestamp_seconds', help: 'When the current model was loaded (Unix time)', registers})
    this.oodRatio.set(0)
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

  setModel(name: string, version: string, alias: string): void {
    this.modelInfo.reset()
    this.modelInfo.set({name, version, alias}, 1)
    this.lastReload.set(Date.now() / 1000)
  }
}
