import type {TopLevelSpec} from 'vega-lite'

import {svgToPng, vegaLiteToSvg} from '../charts/render.js'
import {forHorizon} from '../model/dataset.js'
import type {FanPath} from '../model/plots.js'
import type {ChangePoint, PolicySummary} from './report.js'
import type {PolicyRun, SimulationRun} from './run.js'

const HOUR_MS = 3_600_000
const DAY_MS = 86_400_000

/** Rolling RMSE per policy over the replayed year, with change points (red rules) and promotions (ticks). */
export async function simulationPlotPng(rolling: {time: string; series: string; rmse: number}[], policies: PolicySummary[], changePoints: ChangePoint[], title: string): Promise<Buffer> {
  const promotions = policies.flatMap((p) => p.events.filter((e) => e.promoted && p.name !== 'static').map((e) => ({time: e.at, series: p.name})))
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    // One time axis for both rows, so a tick sits under the RMSE it changed; one colour scale, but only
    // the top row has a legend (merged legends would conflict: "Conflicting legend property disable").
    resolve: {scale: {x: 'shared'}, legend: {color: 'independent'}},
    vconcat: [
      {
        width: 1000, height: 280,
        layer: [
          {
            data: {values: rolling},
            mark: {type: 'line', strokeWidth: 1.4},
            encoding: {
              x: {field: 'time', type: 'temporal', title: null, axis: {format: '%b %d', labelAngle: 0}},
              y: {field: 'rmse', type: 'quantitative', title: '7-day RMSE (°C)', scale: {zero: true}},
              color: {field: 'series', type: 'nominal', title: null, legend: {orient: 'top'}},
              strokeDash: {condition: {test: "datum.series === 'persistence'", value: [4, 3]}, value: [1, 0]},
            },
          },
          ...(changePoints.length ? [{
            data: {values: changePoints},
            mark: {type: 'rule', color: '#c0392b', strokeWidth: 1.5},
            encoding: {x: {field: 'at', type: 'temporal'}},
          }] : []),
        ],
      },
      {
        width: 1000, height: 70,
        data: {values: promotions.length ? promotions : [{time: null, series: ''}]},
        mark: {type: 'tick', thickness: 1.5},
        encoding: {
          x: {field: 'time', type: 'temporal', title: 'promotions (each tick: a new champion)', axis: {format: '%b %d', labelAngle: 0}},
          y: {field: 'series', type: 'nominal', title: null},
          color: {field: 'series', type: 'nominal', legend: null},
        },
      },
    ],
    config: {font: 'DejaVu Sans, Helvetica, Arial, sans-serif', axis: {labelFontSize: 10, titleFontSize: 11}, legend: {labelFontSize: 11}},
  } as unknown as TopLevelSpec
  return svgToPng(await vegaLiteToSvg(spec), 1400)
}

/**
 * A sample of one policy's forecast paths: issued every 12 h over the served year's last three days,
 * each horizon's value with the serving champion's calibrated bands, against what was observed.
 */
export function sampleFanPaths(run: SimulationRun, policy: PolicyRun): {paths: FanPath[]; observed: {time: number; value: number}[]} {
  const {rows} = run.series
  const last = rows.time.at(-1)!
  const from = last - 3 * DAY_MS
  const horizons = [...policy.paths.keys()].sort((a, b) => a - b)
  const paths: FanPath[] = []
  const observed = new Map<number, number>()
  rows.time.forEach((t, i) => {
    if (t <= from) return
    observed.set(t, rows.current[i]!)
    for (const h of horizons) observed.set(t + h * HOUR_MS, forHorizon(rows, h).actual[i]!)
    if ((last - t) % (12 * HOUR_MS) !== 0 || Number.isNaN(policy.predictions[i]!)) return
    paths.push({
      issued: t,
      points: horizons.map((h) => {
        const value = policy.paths.get(h)![i]!
        const bands = [...(policy.halfWidths.get(h) ?? [])].map(([level, w]) => ({level: Number(level), lower: value - w[i]!, upper: value + w[i]!}))
        return {time: t + h * HOUR_MS, value, bands: bands.sort((a, b) => b.level - a.level)}
      }),
    })
  })
  return {paths, observed: [...observed].sort((a, b) => a[0] - b[0]).map(([time, value]) => ({time, value}))}
}
