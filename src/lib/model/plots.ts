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
