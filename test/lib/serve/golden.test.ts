import {strict as assert} from 'node:assert'
import {join} from 'node:path'

import {loadParams} from '../../../src/lib/config/params.js'
import {buildFeatures, featureNames, trainingRows} from '../../../src/lib/features/build-features.js'
import {featureConfig, horizonsOf} from '../../../src/lib/features/config.js'
import {mergeObservations, regularize} from '../../../src/lib/features/hourly-table.js'
import {forHorizon, toModelRows} from '../../../src/lib/model/dataset.js'
import {computeFeatureStats} from '../../../src/lib/model/feature-stats.js'
import type {ForestJson} from '../../../src/lib/forest/forest-core.js'
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
    const horizons = horizonsOf(cfg)
    assert.deepEqual(horizons, [1, 2, 3, 4, 5, 6], 'the shipped params forecast every hour to +6 h')
    const rows = toModelRows(trainingRows(buildFeatures(table, cfg)), features, cfg.target, horizons, cfg.horizonHours)
    assert.ok(rows.time.length > n - 40, `${rows.time.length} training rows from ${n} hours`)
    const index = new Map(table.time.map((t, i) => [t, i]))
    const target = table.columns[cfg.target]!

    // Every horizon's label is the observation h hours later (delta: minus the current one), and its seasonal forecast the one 24 h before that.
    for (const h of horizons) {
      const byH = forHorizon(rows, h)
      for (let r = 0; r < rows.time.length; r++) {
        const t = index.get(rows.time[r]!)!
        if (!Object.is(byH.actual[r], target[t + h])) assert.fail(`+${h} h label at ${new Date(rows.time[r]!).toISOString()}: ${byH.actual[r]} vs observed ${target[t + h]}`)
        if (!Object.is(byH.y[r], target[t + h]! - target[t]!)) assert.fail(`+${h} h delta label at ${new Date(rows.time[r]!).toISOString()}`)
        if (!Object.is(byH.seasonal[r], target[t + h - 24])) assert.fail(`+${h} h seasonal at ${new Date(rows.time[r]!).toISOString()}`)
      }
    }

    // One forest per horizon, each a single leaf worth its horizon: the test is about features and which forest answers which horizon, not splits.
    const leaf = (value: number) => ({name: 'RFRegression', selectionMethod: 'mean', baseModel: {estimators: [{root: {distribution: value}}], indexes: [[0]], nEstimators: 1}}) as unknown as ForestJson
    const meta = {format: MODEL_FORMAT, name: 'golden', target: cfg.target, horizonHours: cfg.horizonHours, horizons, targetMode: cfg.targetMode, features, featureConfig: cfg, trainingStats: computeFeatureStats(features, rows.X)} as ModelMeta
    const shorter = new Map(horizons.filter((h) => h !== cfg.horizonHours).map((h) => [h, leaf(h / 10)]))
    const served = new ServedModel(modelFromForest('golden', meta, leaf(cfg.horizonHours / 10), shorter), {name: 'golden', version: '1', alias: 'test', verified: false}, {maxInstances: 10})
    const hours = served.minObservations
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
      if (r % 97 === 0) {
        const [answer] = served.predict(checked).predictions
        assert.deepEqual(answer!.path.map((p) => [p.horizon, p.target_time, p.value]), horizons.map((h) => [h, new Date(newest + h * HOUR_MS).toISOString(), target[t]! + h / 10]), 'the +h value comes from the +h forest, timed newest + h')
        assert.equal(answer!.prediction, target[t]! + cfg.horizonHours / 10)
      }
      compared++
    }
    assert.ok(compared >= rows.time.length - hours, `compared ${compared} of ${rows.time.length} hours`)
  })
})
