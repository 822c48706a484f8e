import type {Params} from '../config/params.js'
import {type AciSettings, DEFAULT_ACI} from '../stats/intervals.js'

export interface FeatureConfig {
  target: string
  /** The longest horizon: the dataset's `y`/`target_value` and every single-horizon score. */
  horizonHours: number
  /** Every horizon forecast, ascending, the last one horizonHours (absent in older models: [horizonHours]). */
  horizons?: number[]
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
    horizons: [...new Set(params.horizons ?? [params.horizon_hours])].sort((a, b) => a - b),
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

/** The horizons a configuration forecasts, ascending (older configurations: the one horizon). */
export function horizonsOf(cfg: Pick<FeatureConfig, 'horizonHours' | 'horizons'>): number[] {
  return cfg.horizons?.length ? cfg.horizons : [cfg.horizonHours]
}

/** The interval levels params.yaml asks for (default 80 % and 95 %), ascending. */
export function intervalLevels(params: Params): number[] {
  return [...new Set(params.intervals?.levels ?? [0.8, 0.95])].sort((a, b) => a - b)
}

/** Adaptive conformal inference settings of the live bands (params.yaml intervals). */
export function aciSettings(params: Params): AciSettings {
  return {gamma: params.intervals?.aci_gamma ?? DEFAULT_ACI.gamma, window: params.intervals?.window_hours ?? DEFAULT_ACI.window, minResiduals: DEFAULT_ACI.minResiduals}
}
