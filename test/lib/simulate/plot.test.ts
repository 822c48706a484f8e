import {strict as assert} from 'node:assert'

import {simulationPlotPng} from '../../../src/lib/simulate/plot.js'

describe('simulate plot', () => {
  it('when rendered, then it is a PNG and Vega warns about nothing (no "Conflicting legend property")', async () => {
    const rolling = ['static', 'drift-triggered', 'persistence'].flatMap((series, s) =>
      Array.from({length: 10}, (_, i) => ({time: new Date(Date.UTC(2025, 0, 1 + i)).toISOString(), series, rmse: 1 + s + i / 10})))
    const policies = [{name: 'drift-triggered', events: [{at: new Date(Date.UTC(2025, 0, 4)).toISOString(), promoted: true}]}]
    const warnings: string[] = []
    const warn = console.warn
    console.warn = (...args: unknown[]) => void warnings.push(args.map(String).join(' '))
    let png: Buffer
    try {
      png = await simulationPlotPng(rolling, policies as never, [{at: new Date(Date.UTC(2025, 0, 5)).toISOString()} as never], 'test')
    } finally {
      console.warn = warn
    }
    assert.equal(png.subarray(1, 4).toString(), 'PNG')
    assert.deepEqual(warnings, [])
  })
})
