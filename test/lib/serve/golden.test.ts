import {strict as assert} from 'node:assert'
import {join} from 'node:path'

import {loadParams} from '../../../src/lib/config/params.js'
import {buildFeatures, featureNames, trainingRows} from '../../../src/lib/features/build-features.js'
import {featureConfig} from '../../../src/lib/features/config.js'
import {mergeObservations, regularize} from '../../../src/lib/features/hourly-table.js'
import {toModelRows} from '../../../src/lib/model/dataset.js'
import {computeFeatureStats} from '../../../src/lib/model/feature-stats.js'
import type {ForestJson} from '../../../src/lib/model/forest-core.js'
import {MODEL_FORMAT, type ModelMeta, modelFromForest} from '../../../src/lib/model/model-dir.js'
import {ServedModel} from '../../../src/lib/serve/served-model.js'
import {HOUR_MS, REPLAY_STATION, loadReplaySeries} from '../../../src/lib/sources/replay-series.js'
import {ROOT} from '../../support/rps.js'

/**
 * The golden test of the one feature definition: for every hour of the shipped year, the vector the
 * server builds from an observations request (as JSON on the wire) is the training row featurize
 * builds for that hour, float for float.
 */
describe('served features vs training rows (golden, the shipped year)', function () {
  this.timeout(120_000)

  it('when every hour of the shipped year is sent as an observations instance, then the served vector equals the training row bit for bit', () => {
    const params = loadParams(join(ROOT, 'params.yaml'))
    const cfg = featureConfig(params)
    const series = loadReplaySeries(join(ROOT, REPLAY_STATION.file))
    const start = Date.UTC(2001, 0, 1)
    const n = series.values[cfg.target]!.length
    const time = Array.from({length: n}, (_, i) => start + i * HOUR_MS)
    // featurize's path: merge -> regularize -> buildFeatures -> trainingRows (polars).
    const merged = mergeObservations(undefined, [{collectedAt: new Date(start + n * HOUR_MS).toISOString(), obs: {time, rawTime: [], columns: Object.fromEntries(cfg.variables.map((v) => [v, series.values[v]!])), keyColumns: cfg.variables, droppedFuture: 0}}], cfg.variables)
    const {table} = regularize(merged, cfg.variables, cfg.maxFillHours)
    const features = featureNames(cfg)
    const rows = toModelRows(trainingRows(buildFeatures(table, cfg)), features, cfg.target)
    assert.ok(rows.time.length > n - 40, `${rows.time.length} training rows from ${n} hours`)

    // A model whose only tree is a leaf: the test is about features, not splits.
    const forest = {name: 'RFRegression', selectionMethod: 'mean', baseModel: {estimators: [{root: {distribution: 0}}], indexes: [[0]], nEstimators: 1}} as unknown as ForestJson
    const meta = {format: MODEL_FORMAT, name: 'golden', target: cfg.target, horizonHours: cfg.horizonHours, targetMode: cfg.targetMode, features, featureConfig: cfg, trainingStats: computeFeatureStats(features, rows.X)} as ModelMeta
    const served = new ServedModel(modelFromForest('golden', meta, forest), {name: 'golden', version: '1', alias: 'test', verified: false}, {maxInstances: 10})
    const hours = served.minObservations
    const index = new Map(table.time.map((t, i) => [t, i]))
    const out = new Float64Array(features.length)
    let compared = 0
    for (let r = 0; r < rows.time.length; r++) {
      const t = index.get(rows.time[r]!)!
      if (t < hours - 1) continue
      const observations = Array.from({length: hours}, (_, k) => {
        const i = t - hours + 1 + k
        return {time: new Date(table.time[i]!).toISOString().replace('.000Z', 'Z'), ...Object.fromEntries(cfg.variables.map((v) => [v, table.columns[v]![i]]))}
      })
      const body = JSON.parse(JSON.stringify({instances: [{observations}]}))
      const checked = served.checkRequest(body)
      const newest = served.observationFeatures(body.instances[0].observations, checked.firstHour[0]!, out)
      assert.equal(newest, rows.time[r])
      for (let f = 0; f < features.length; f++) {
        if (!Object.is(out[f], rows.X[r]![f])) assert.fail(`${new Date(newest).toISOString()} ${features[f]}: served ${out[f]} vs training ${rows.X[r]![f]}`)
      }
      compared++
    }
    assert.ok(compared >= rows.time.length - hours, `compared ${compared} of ${rows.time.length} hours`)
  })
})
