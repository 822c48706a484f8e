import type {TopLevelSpec} from 'vega-lite'

import type {ColumnProfile} from './stats.js'

const FONT = {config: {font: 'DejaVu Sans, Helvetica, Arial, sans-serif', view: {stroke: null}, axis: {labelFontSize: 10, titleFontSize: 11}}}

export function histogramSpec(column: ColumnProfile): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 260, height: 90,
    data: {values: column.histogram},
    mark: {type: 'bar', color: '#4c78a8', binSpacing: 0},
    encoding: {
      x: {field: 'start', type: 'quantitative', bin: {binned: true}, title: null, axis: {tickCount: 5}},
      x2: {field: 'end'},
      y: {field: 'count', type: 'quantitative', title: null, axis: {tickCount: 3}},
    },
    ...FONT,
  } as TopLevelSpec
}

export function correlationSpec(rows: {feature: string; r: number}[], title: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 420, height: {step: 13},
    title,
    data: {values: rows},
    mark: 'bar',
    encoding: {
      y: {field: 'feature', type: 'nominal', sort: {field: 'r', op: 'max', order: 'descending'}, title: null, axis: {labelLimit: 280}},
      x: {field: 'r', type: 'quantitative', scale: {domain: [-1, 1]}, title: 'Pearson r'},
      color: {condition: {test: 'datum.r < 0', value: '#e45756'}, value: '#4c78a8'},
    },
    ...FONT,
  } as TopLevelSpec
}

export function coverageSpec(days: {day: string; min: number | null; mean: number | null; max: number | null; hours: number}[], target: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 860, height: 180,
    data: {values: days},
    layer: [
      {mark: {type: 'area', opacity: 0.25, color: '#4c78a8'}, encoding: {x: {field: 'day', type: 'temporal', title: null}, y: {field: 'min', type: 'quantitative', title: `${target} (daily min / mean / max)`}, y2: {field: 'max'}}},
      {mark: {type: 'line', color: '#4c78a8', strokeWidth: 1.2}, encoding: {x: {field: 'day', type: 'temporal'}, y: {field: 'mean', type: 'quantitative'}}},
      {mark: {type: 'tick', color: '#e45756', thickness: 2}, transform: [{filter: 'datum.hours < 24'}], encoding: {x: {field: 'day', type: 'temporal'}, y: {value: 175}}},
    ],
    ...FONT,
  } as TopLevelSpec
}
