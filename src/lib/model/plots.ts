import type {TopLevelSpec} from 'vega-lite'

import {svgToPng, vegaLiteToSvg} from '../charts/render.js'

const CONFIG = {config: {font: 'DejaVu Sans, Helvetica, Arial, sans-serif', axis: {labelFontSize: 10, titleFontSize: 11}, legend: {labelFontSize: 11}}}

export interface SeriesPoint {
  time: number
  series: string
  value: number
}

/** Forecast vs actual over time, one line per series (actual, model(s), baselines). */
export async function forecastPlotPng(points: SeriesPoint[], title: string): Promise<Buffer> {
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title, width: 820, height: 260,
    data: {values: points.map((p) => ({...p, time: new Date(p.time).toISOString()}))},
    mark: {type: 'line', strokeWidth: 1.3},
    encoding: {
      x: {field: 'time', type: 'temporal', title: 'target time (UTC)', axis: {format: '%b %d', labelAngle: 0}},
      y: {field: 'value', type: 'quantitative', title: '°C', scale: {zero: false}},
      color: {field: 'series', type: 'nominal', title: null, legend: {orient: 'top'}},
      strokeDash: {condition: {test: "datum.series === 'actual'", value: [1, 0]}, value: [4, 2]},
    },
    ...CONFIG,
  } as TopLevelSpec
  return svgToPng(await vegaLiteToSvg(spec), 1400)
}

/** Residual (prediction - actual) distribution per series. */
export async function residualsPlotPng(residuals: {series: string; residual: number}[], title: string): Promise<Buffer> {
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title, width: 380, height: 200,
    data: {values: residuals},
    mark: {type: 'bar', opacity: 0.6, binSpacing: 0},
    encoding: {
      x: {field: 'residual', type: 'quantitative', bin: {maxbins: 40}, title: 'prediction − actual (°C)'},
      y: {aggregate: 'count', type: 'quantitative', stack: null, title: 'hours'},
      color: {field: 'series', type: 'nominal', title: null, legend: {orient: 'top'}},
    },
    ...CONFIG,
  } as TopLevelSpec
  return svgToPng(await vegaLiteToSvg(spec), 900)
}

/** One forecast path of a fan chart: issued at `issued`, each point's value and band (lower..upper per level); a point's `label` is written above it. */
export interface FanPath {
  issued: number
  points: {time: number; value: number; bands: {level: number; lower: number; upper: number}[]; label?: string}[]
}

/**
 * A fan chart: forecast paths issued at a few times, each with its bands shaded (the wider level
 * lighter), against what was observed.
 */
export function fanChartSpec(paths: FanPath[], observed: {time: number; value: number}[], title: string, options: {yTitle?: string; width?: number} = {}): TopLevelSpec {
  const iso = (t: number) => new Date(t).toISOString()
  const bands = paths.flatMap((p) => p.points.flatMap((pt) => pt.bands.map((b) => ({issued: iso(p.issued), time: iso(pt.time), level: `${Math.round(b.level * 100)} %`, lower: b.lower, upper: b.upper}))))
  const lines = paths.flatMap((p) => p.points.map((pt) => ({issued: iso(p.issued), time: iso(pt.time), value: pt.value})))
  const labels = paths.flatMap((p) => p.points.filter((pt) => pt.label).map((pt) => ({time: iso(pt.time), value: pt.value, label: pt.label})))
  const x = {field: 'time', type: 'temporal', title: 'target time (UTC)', axis: {format: '%b %d %H:00', labelAngle: 0}}
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title, width: options.width ?? 820, height: 260,
    layer: [
      {
        data: {values: bands}, mark: {type: 'area', color: '#4c78a8'},
        encoding: {
          x, y: {field: 'lower', type: 'quantitative', title: options.yTitle ?? '°C', scale: {zero: false}}, y2: {field: 'upper'}, detail: {field: 'issued'},
          opacity: {field: 'level', type: 'ordinal', title: 'band', scale: {range: [0.35, 0.15]}, legend: {orient: 'top'}},
        },
      },
      {data: {values: lines}, mark: {type: 'line', color: '#1f4e79', strokeWidth: 1.5, point: {size: 12}}, encoding: {x, y: {field: 'value', type: 'quantitative'}, detail: {field: 'issued'}}},
      {data: {values: observed.map((o) => ({time: iso(o.time), value: o.value}))}, mark: {type: 'line', color: 'black', strokeWidth: 1.2}, encoding: {x, y: {field: 'value', type: 'quantitative'}}},
      ...(labels.length ? [{data: {values: labels}, mark: {type: 'text', color: '#1f4e79', fontSize: 10, dy: -9}, encoding: {x, y: {field: 'value', type: 'quantitative'}, text: {field: 'label'}}}] : []),
    ],
    ...CONFIG,
  } as TopLevelSpec
}

export async function fanChartPng(paths: FanPath[], observed: {time: number; value: number}[], title: string): Promise<Buffer> {
  return svgToPng(await vegaLiteToSvg(fanChartSpec(paths, observed, title)), 1400)
}
