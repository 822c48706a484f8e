/**
 * The forecast path on data no model saw: rolling origins over every shipped station year. At each origin a
 * model is fitted with the shipped params (every horizon, its bands calibrated on its own 14-day
 * holdout, as `rps train` does) on everything before it, then forecasts the next 14 days hour by
 * hour. Per horizon: RMSE against persistence and seasonal-naive, and how often the truth fell in
 * the 80 % and 95 % bands — the static calibrated bands and the live ones (adaptive conformal
 * inference fed by the errors as they arrive, as `rps forecast` does).
 */
import {intervalLevels} from '../src/lib/features/config.js'
import {forHorizon, sliceRows} from '../src/lib/model/dataset.js'
import {fitModel} from '../src/lib/model/fit.js'
import {DEFAULT_ACI, absResiduals, conformalHalfWidth, coverage, levelKey} from '../src/lib/stats/intervals.js'
import {score} from '../src/lib/model/metrics.js'
import {modelSection} from '../src/lib/model/settings.js'
import {REPLAY_STATIONS} from '../src/lib/sources/replay-series.js'
import {type BenchContext, type BenchOutput, type TableRow, round} from './support/common.js'
import {benchFeatureConfig, benchParams, replayModelRows} from './support/replay.js'

const DAY_MS = 86_400_000
/** Days after each origin that are forecast: the next 14 days, as long as a holdout. */
const TEST_DAYS = 14
/** Origins: day 90 of the year, then every 45 days while 14 days remain. */
const FIRST_ORIGIN_DAY = 90
const ORIGIN_STEP_DAYS = 45

interface HorizonTotals {
  actual: number[]
  model: number[]
  persistence: number[]
  seasonal: number[]
  /** Per level: misses of the static band, and of the live (ACI) band. */
  staticInside: Record<string, number>
  liveInside: Record<string, number>
}

/**
 * Adaptive conformal inference as `rps forecast` runs it, with the feedback delay of a +h forecast:
 * forecast i is issued when the errors of forecasts 0 .. i-h are known. Returns how many fell inside their band.
 */
function liveBandHits(residuals: number[], h: number, level: number, calibrated: number): number {
  let alpha = 1 - level
  let processed = 0
  let hits = 0
  const widths: number[] = []
  for (let i = 0; i < residuals.length; i++) {
    const known = Math.max(0, i - h + 1)
    for (; processed < known; processed++) alpha += DEFAULT_ACI.gamma * (1 - level - (residuals[processed]! > widths[processed]! ? 1 : 0))
    let width = calibrated
    if (known >= DEFAULT_ACI.minResiduals) {
      const recent = residuals.slice(Math.max(0, known - DEFAULT_ACI.window), known)
      width = alpha <= 0 ? Math.max(...recent) : alpha >= 1 ? 0 : conformalHalfWidth(recent, 1 - alpha)
    }
    widths.push(width)
    if (residuals[i]! <= width) hits++
  }
  return hits
}

export async function run(ctx: BenchContext): Promise<BenchOutput> {
  const params = benchParams()
  const cfg = benchFeatureConfig(params)
  const section = modelSection(params)
  const levels = intervalLevels(params)
  const stations: Record<string, unknown> = {}
  const table: TableRow[] = []
  const met: Record<string, boolean | null> = {}
  let fullYearFitSeconds = 0
  for (const station of REPLAY_STATIONS) {
    const {rows, features} = replayModelRows(1, cfg, station.file)
    const horizons = [...(rows.shorter?.keys() ?? []), cfg.horizonHours].sort((a, b) => a - b)
    const start = rows.time[0]!
    const end = rows.time.at(-1)!
    const totals = new Map<number, HorizonTotals>(horizons.map((h) => [h, {
      actual: [], model: [], persistence: [], seasonal: [],
      staticInside: Object.fromEntries(levels.map((l) => [levelKey(l), 0])), liveInside: Object.fromEntries(levels.map((l) => [levelKey(l), 0])),
    }]))
    const origins: {origin: string; trainRows: number; testRows: number; fitSeconds: number; rmseByHorizon: Record<string, number>}[] = []
    const fit = (upTo: number) => fitModel({
      rows: sliceRows(rows, 0, upTo), features, featureConfig: cfg, section,
      provenance: {dataVersion: 'bench', codeVersion: 'bench', rpsVersion: 'bench'}, intervalLevels: levels,
    })
    for (let day = FIRST_ORIGIN_DAY; start + (day + TEST_DAYS) * DAY_MS <= end; day += ORIGIN_STEP_DAYS) {
      const origin = start + day * DAY_MS
      const before = rows.time.findIndex((t) => t >= origin)
      const after = rows.time.findIndex((t) => t >= origin + TEST_DAYS * DAY_MS)
      const fitted = await fit(before)
      const test = sliceRows(rows, before, after)
      const calibration = fitted.meta.calibration!
      const rmseByHorizon: Record<string, number> = {}
      for (const h of horizons) {
        const r = forHorizon(test, h)
        const predicted = fitted.model.predictHorizon(h, r.X, r.current)
        const t = totals.get(h)!
        t.actual.push(...r.actual)
        t.model.push(...predicted)
        t.persistence.push(...r.current)
        t.seasonal.push(...r.seasonal)
        rmseByHorizon[h] = round(score(r.actual, predicted).rmse, 3)
        const residuals = absResiduals(predicted, r.actual)
        for (const level of levels) {
          const key = levelKey(level)
          const width = calibration.halfWidth[String(h)]![key]!
          t.staticInside[key]! += Math.round(coverage(residuals, width) * residuals.length)
          t.liveInside[key]! += liveBandHits(residuals, h, level, width)
        }
      }
      origins.push({origin: new Date(origin).toISOString().slice(0, 10), trainRows: fitted.meta.split.trainRows, testRows: test.time.length, fitSeconds: round(fitted.meta.trainingSeconds, 1), rmseByHorizon})
      ctx.log(`${station.id} origin ${origins.at(-1)!.origin}: +1..+${cfg.horizonHours} h RMSE ${Object.values(rmseByHorizon).join(' / ')} (${fitted.meta.trainingSeconds.toFixed(1)} s fit)`)
    }
    if (station === REPLAY_STATIONS[0]) {
      // The cost target: every horizon's forest on a whole year, as rps train fits it.
      const whole = await fit(rows.time.length)
      fullYearFitSeconds = whole.meta.trainingSeconds
      met['every horizon trained on a year in <= 60 s'] = fullYearFitSeconds <= 60
      table.push({metric: `${station.id}: train ${horizons.length} forests x ${section.n_estimators} trees on a year (${whole.meta.split.trainRows} rows)`, value: `${fullYearFitSeconds.toFixed(1)} s`, target: '<= 60 s', met: met['every horizon trained on a year in <= 60 s']})
    }
    const byHorizon: Record<string, Record<string, unknown>> = {}
    for (const h of horizons) {
      const t = totals.get(h)!
      const n = t.actual.length
      const model = score(t.actual, t.model).rmse
      const persistence = score(t.actual, t.persistence).rmse
      const seasonal = score(t.actual, t.seasonal).rmse
      const staticCoverage = Object.fromEntries(levels.map((l) => [levelKey(l), round(t.staticInside[levelKey(l)]! / n, 3)]))
      const liveCoverage = Object.fromEntries(levels.map((l) => [levelKey(l), round(t.liveInside[levelKey(l)]! / n, 3)]))
      byHorizon[h] = {n, rmse: round(model, 3), persistenceRmse: round(persistence, 3), seasonalRmse: round(seasonal, 3), staticCoverage, liveCoverage}
      const beats = `${station.id} +${h} h beats persistence and seasonal`
      met[beats] = model < persistence && model < seasonal
      table.push({metric: `${station.id} +${h} h RMSE (persistence, seasonal)`, value: `${model.toFixed(3)} (${persistence.toFixed(3)}, ${seasonal.toFixed(3)})`, target: '< both', met: met[beats]})
      for (const l of levels) {
        const key = levelKey(l)
        const within = `${station.id} +${h} h ${key} live band within ±0.05`
        met[within] = Math.abs(liveCoverage[key]! - l) <= 0.05
        table.push({metric: `${station.id} +${h} h ${Math.round(l * 100)} % band coverage static / live`, value: `${staticCoverage[key]} / ${liveCoverage[key]}`, target: `live ${l} ± 0.05`, met: met[within]})
      }
    }
    stations[station.id] = {origins, byHorizon}
  }
  return {
    config: {
      data: `every shipped replay year (${REPLAY_STATIONS.map((s) => s.id).join(', ')}), one year each`, levels, aci: DEFAULT_ACI,
      origins: `day ${FIRST_ORIGIN_DAY}, then every ${ORIGIN_STEP_DAYS} days; each forecasts the next ${TEST_DAYS} days`,
      model: {n_estimators: section.n_estimators, max_depth: section.max_depth, max_samples: section.max_samples, holdout_days: section.holdout_days, workers: section.workers},
    },
    results: {stations, fullYearFitSeconds: round(fullYearFitSeconds, 1)},
    targets: {
      'every horizon beats both naive baselines': 'model RMSE < persistence and < seasonal-naive, over all origins, on every shipped year',
      'live bands keep their level': 'coverage of the live (ACI) bands within ±0.05 of the level, per horizon, on every shipped year',
      'every horizon trained on a year in <= 60 s': 'fitModel on the whole default year, every horizon (issue 25 cost target)',
    },
    met,
    table,
  }
}
