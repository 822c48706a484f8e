import type {Params} from '../config/params.js'

export interface FeatureConfig {
  target: string
  horizonHours: number
  variables: string[]
  maxFillHours: number
  lags: number[]
  lagVariables: string[]
  rollingWindows: number[]
  rollingVariables: string[]
  diffs: Record<string, number[]>
  cyclic: ('hour_of_day' | 'day_of_year')[]
  targetMode: 'delta' | 'level'
}

interface FeaturesSection {
  max_fill_hours: number
  lags: number[]
  lag_variables: string[]
  rolling_windows: number[]
  rolling_variables: string[]
  diffs: Record<string, number[]>
  cyclic: ('hour_of_day' | 'day_of_year')[]
  target_mode: 'delta' | 'level'
}

export function featureConfig(params: Params): FeatureConfig {
  const f = params.features as FeaturesSection
  return {
    target: params.target,
    horizonHours: params.horizon_hours,
    variables: params.variables,
    maxFillHours: f.max_fill_hours,
    lags: f.lags,
    lagVariables: [params.target, ...f.lag_variables.filter((v) => v !== params.target)],
    rollingWindows: f.rolling_windows,
    rollingVariables: [params.target, ...f.rolling_variables.filter((v) => v !== params.target)],
    diffs: f.diffs,
    cyclic: f.cyclic,
    targetMode: f.target_mode,
  }
}

/** Hours of history a feature row needs: the longest lag, rolling window or difference. */
export function requiredHistoryHours(cfg: FeatureConfig): number {
  const spans = [0, ...cfg.lags, ...cfg.rollingWindows.map((w) => w - 1), ...Object.values(cfg.diffs).flat()]
  return Math.max(...spans) + 1
}
