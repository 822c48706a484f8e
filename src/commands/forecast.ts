import {Flags} from '@oclif/core'

import {RpsCommand} from '../lib/cli/base-command.js'
import {type ForecastResult, forecastAndScore} from '../lib/live/forecast.js'
import type {ErrorStats} from '../lib/live/live-errors.js'

export type ForecastCommandResult = ForecastResult

function fmt(s: ErrorStats): string {
  return s.mae === null ? 'n=0' : `MAE ${s.mae.toFixed(2)} RMSE ${s.rmse!.toFixed(2)} n=${s.n}`
}

export default class Forecast extends RpsCommand {
  static summary = 'Forecast from the newest observation hour, log it, and score logged forecasts whose target is now observed.'

  static description = `Loads @champion through MLflow (or --model-dir), builds the model's features (its own saved feature
configuration) from the observation history and forecasts from the newest hour. The forecast is appended to
the prediction log (JSON lines; --prediction-log, default $RPS_PREDICTION_LOG, else
data/predictions/predictions.jsonl) once per hour and model version, so reruns are idempotent. Then every
logged forecast (this command's and rps serve's) whose target time is observed gets its error, and
reports/live/live-errors.json is rewritten atomically: MAE/RMSE of the model and of persistence over the
last 24 h and 7 d of target times (the data clock), and per model version. rps serve exposes that file as
rps_live_error_* gauges. The forecast page (--forecast-page, default $RPS_FORECAST_PAGE, else forecast.html beside
the live errors) shows the last 48 h observed and the path from the newest hour with its bands; a rerun in
the same hour rewrites it from the logged path. Without a champion it says so, writes no page and exits 0
(the first run of a new deployment).`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --model-dir build/model --json',
  ]

  static flags = {
    'model-dir': Flags.string({summary: 'Forecast with this model directory instead of the registry alias.'}),
    alias: Flags.string({summary: 'Registry alias to forecast with.', default: 'champion'}),
    'prediction-log': Flags.string({summary: 'Prediction log (default: $RPS_PREDICTION_LOG, else data/predictions/predictions.jsonl).', env: 'RPS_PREDICTION_LOG'}),
    'live-errors-file': Flags.string({summary: 'Where to write the live errors (default: $RPS_LIVE_ERRORS_FILE, else reports/live/live-errors.json).', env: 'RPS_LIVE_ERRORS_FILE'}),
    'forecast-page': Flags.string({summary: 'Where to write the forecast page (default: $RPS_FORECAST_PAGE, else forecast.html beside the live errors).', env: 'RPS_FORECAST_PAGE'}),
  }

  async run(): Promise<ForecastCommandResult> {
    const {flags} = await this.parse(Forecast)
    const params = this.loadParams(flags.params)
    const r = await forecastAndScore(params, {modelDir: flags['model-dir'], alias: flags.alias, logPath: flags['prediction-log'], liveErrorsFile: flags['live-errors-file'], pageFile: flags['forecast-page']})
    if (r.appended && r.forecast) {
      const f = r.forecast
      this.note(`forecast ${f.model.name} v${f.model.version} from ${f.issued_at}: ${f.prediction.toFixed(2)} at ${f.target_time} (persistence ${f.persistence.toFixed(2)}); logged to ${r.predictionLog}`)
      for (const p of r.path) {
        const bands = Object.entries(p.bands ?? {}).map(([level, [lo, hi]]) => `${Math.round(Number(level) * 100)} % ${lo.toFixed(2)}..${hi.toFixed(2)}`).join(', ')
        this.note(`  +${p.horizon} h ${p.target_time}: ${p.prediction.toFixed(2)}${bands ? ` (${bands})` : ''}`)
      }
    }
    if (r.skipped) this.note(`no new forecast: ${r.skipped}`)
    if (r.pageFile) this.note(`forecast page: ${r.pageFile}`)
    if (r.liveErrors) {
      for (const [name, w] of Object.entries(r.liveErrors.windows)) this.note(`live ${name}: model ${fmt(w.model)}; persistence ${fmt(w.persistence)}`)
      for (const [h, e] of Object.entries(r.liveErrors.by_horizon ?? {})) {
        const w = e.windows['7d']
        if (!w?.model.n) continue
        const coverage = Object.entries(w.coverage).filter(([, c]) => c !== null).map(([level, c]) => `${Math.round(Number(level) * 100)} % band ${(c! * 100).toFixed(0)} %`).join(', ')
        this.note(`live 7d +${h} h: model ${fmt(w.model)}${coverage ? `; covered: ${coverage}` : ''}`)
      }
      const p = r.liveErrors.predictions
      this.note(`${p.scored} scored, ${p.pending} awaiting their target hour${p.client ? `, ${p.client} client prediction(s) not scored` : ''}; ${r.liveErrorsFile}`)
    }
    return r
  }
}
