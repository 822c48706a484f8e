import {strict as assert} from 'node:assert'

import {dedupePredictions, errorStats, liveErrors, scorePredictions, summarizeErrors} from '../../../src/lib/live/live-errors.js'
import type {PredictionRecord} from '../../../src/lib/live/prediction-log.js'

const H = 3_600_000
const T0 = Date.parse('2026-05-20T00:00:00Z')
const iso = (ms: number) => new Date(ms).toISOString()

function rec(issuedHour: number, prediction: number, persistence: number, version = '1', source: 'forecast' | 'serve' = 'forecast'): PredictionRecord {
  return {
    issued_at: iso(T0 + issuedHour * H), target_time: iso(T0 + (issuedHour + 6) * H), prediction, persistence,
    model: {name: 'rps-temperature', version}, source, logged_at: iso(T0 + issuedHour * H + 60_000),
  }
}

function close(actual: number | null, expected: number, what: string) {
  assert.ok(actual !== null && Math.abs(actual - expected) < 1e-12, `${what}: ${actual} vs ${expected}`)
}

describe('live errors: joining logged forecasts with observations', () => {
  // observed temperature by hour after T0; hour 5 is a long gap (null), history ends at hour 9
  const observedByHour: Record<number, number | null> = {0: 8, 1: 9, 2: 10, 5: null, 6: 11, 7: 12, 8: 13, 9: 12}
  const observed = (ms: number) => observedByHour[(ms - T0) / H]
  const dataEnd = T0 + 9 * H

  it('when a target hour is observed, then error = prediction - actual and persistence error = persistence - actual', () => {
    const {scored, pending, unobserved} = scorePredictions([rec(0, 10, 8), rec(1, 12, 9), rec(2, 15, 10)], observed, dataEnd)
    assert.deepEqual(scored.map((s) => [s.actual, s.error, s.persistenceError]), [[11, -1, -3], [12, 0, -3], [13, 2, -3]])
    assert.equal(pending, 0)
    assert.equal(unobserved, 0)
  })

  it('when the target is after the history, then it is pending; inside the history without a value, unobserved', () => {
    const gap = {...rec(0, 1, 1), target_time: iso(T0 + 5 * H)}
    const {scored, pending, unobserved} = scorePredictions([rec(5, 10, 8), rec(9, 10, 8), gap], observed, dataEnd)
    assert.equal(scored.length, 0)
    assert.equal(pending, 2)
    assert.equal(unobserved, 1)
  })

  it('when MAE and RMSE are computed, then they match the hand-computed values', () => {
    // errors -1, 0, 2: MAE 3/3 = 1, RMSE sqrt((1 + 0 + 4) / 3)
    const s = errorStats([-1, 0, 2])
    assert.equal(s.mae, 1)
    close(s.rmse, Math.sqrt(5 / 3), 'rmse')
    assert.equal(s.n, 3)
    assert.deepEqual(errorStats([]), {mae: null, rmse: null, n: 0})
  })

  it('when the same hour and version are logged twice (a rerun, a client asking again), then it counts once', () => {
    const records = [rec(0, 10, 8), rec(0, 99, 8, '1', 'serve'), rec(0, 11, 8, '2'), rec(1, 12, 9)]
    const unique = dedupePredictions(records)
    assert.deepEqual(unique.map((r) => [r.issued_at, r.model.version, r.prediction]), [[iso(T0), '1', 10], [iso(T0), '2', 11], [iso(T0 + H), '1', 12]])
  })

  it('when windows are measured, then they reach back from the newest scored target time, end inclusive, start exclusive', () => {
    const {scored} = scorePredictions([rec(0, 10, 8), rec(1, 12, 9), rec(2, 15, 10)], observed, dataEnd)
    // newest target: hour 8; a 2 h window holds targets after hour 6: hours 7 (error 0) and 8 (error 2)
    const {windows} = summarizeErrors(scored, {'2h': 2, '24h': 24})
    assert.equal(windows['2h']!.end, iso(T0 + 8 * H))
    assert.equal(windows['2h']!.start, iso(T0 + 6 * H))
    assert.equal(windows['2h']!.model.n, 2)
    assert.equal(windows['2h']!.model.mae, 1)
    close(windows['2h']!.model.rmse, Math.sqrt(2), '2h rmse')
    assert.deepEqual(windows['2h']!.persistence, {mae: 3, rmse: 3, n: 2})
    assert.equal(windows['24h']!.model.n, 3)
    assert.equal(windows['24h']!.model.mae, 1)
  })

  it('when ten days of hourly forecasts are scored, then 24h holds 24 of them and 7d 168, with their own errors', () => {
    // error of the forecast for target hour k: +1 during the last day, -3 before; persistence always 2 off
    const hours = 240
    const series = new Map<number, number>()
    const records: PredictionRecord[] = []
    for (let k = 0; k < hours; k++) {
      series.set(T0 + (k + 6) * H, 20)
      records.push(rec(k, k >= hours - 24 ? 21 : 17, 22))
    }
    const r = liveErrors({records, malformed: 0, observed: (ms) => series.get(ms), dataEnd: T0 + (hours + 5) * H, target: 'temperature_2m', now: new Date(0)})
    assert.deepEqual(r.windows['24h']!.model, {mae: 1, rmse: 1, n: 24})
    // 7d: 24 errors of +1 and 144 of -3: MAE (24 + 432) / 168, RMSE sqrt((24 + 1296) / 168)
    close(r.windows['7d']!.model.mae, 456 / 168, '7d mae')
    close(r.windows['7d']!.model.rmse, Math.sqrt(1320 / 168), '7d rmse')
    assert.equal(r.windows['7d']!.model.n, 168)
    assert.deepEqual(r.windows['7d']!.persistence, {mae: 2, rmse: 2, n: 168})
    assert.equal(r.predictions.scored, 240)
    assert.equal(r.data_end, iso(T0 + 245 * H))
  })

  it('when several versions forecast, then by_version scores each on its own rows', () => {
    const records = [rec(0, 10, 8, '1'), rec(1, 12, 9, '1'), rec(2, 15, 10, '2'), rec(9, 1, 1, '2')]
    const r = liveErrors({records, malformed: 2, observed, dataEnd, target: 'temperature_2m', now: new Date('2026-05-21T00:00:00Z')})
    assert.deepEqual(Object.keys(r.by_version), ['1', '2'])
    assert.deepEqual(r.by_version['1']!.model, {mae: 0.5, rmse: Math.sqrt(0.5), n: 2})
    assert.deepEqual(r.by_version['1']!.persistence, {mae: 3, rmse: 3, n: 2})
    assert.equal(r.by_version['1']!.first_target_time, iso(T0 + 6 * H))
    assert.equal(r.by_version['1']!.last_target_time, iso(T0 + 7 * H))
    assert.deepEqual(r.by_version['2']!.model, {mae: 2, rmse: 2, n: 1})
    assert.deepEqual(r.predictions, {logged: 4, client: 0, unique: 4, scored: 3, pending: 1, unobserved: 0, malformed: 2})
    assert.equal(r.updated_at, '2026-05-21T00:00:00.000Z')
  })

  it('when clients\' observations requests were logged by rps serve, then only the pipeline\'s own forecasts are scored, even where a client logged the hour first', () => {
    // A client's request for hour 0 with a wild prediction, logged before the DAG's forecast of the same hour and version.
    const records = [rec(0, 99, 99, '1', 'serve'), rec(0, 10, 8), rec(1, 50, 50, '1', 'serve'), rec(2, 15, 10)]
    const r = liveErrors({records, malformed: 0, observed, dataEnd, target: 'temperature_2m', now: new Date(0)})
    assert.deepEqual(r.predictions, {logged: 4, client: 2, unique: 2, scored: 2, pending: 0, unobserved: 0, malformed: 0})
    assert.deepEqual(r.by_version['1']!.model, {mae: 1.5, rmse: Math.sqrt(2.5), n: 2})
    const old = {...rec(3, 40, 40)} as Partial<PredictionRecord>
    delete old.source
    assert.equal(liveErrors({records: [old as PredictionRecord], malformed: 0, observed, dataEnd, target: 'temperature_2m', now: new Date(0)}).predictions.scored, 0, 'a line without a source is not the pipeline\'s')
  })

  it('when nothing is scored yet, then every window reports n = 0 and null errors', () => {
    const r = liveErrors({records: [rec(9, 1, 1)], malformed: 0, observed, dataEnd, target: 'temperature_2m', now: new Date(0)})
    assert.deepEqual(r.windows['24h'], {hours: 24, start: null, end: null, model: {mae: null, rmse: null, n: 0}, persistence: {mae: null, rmse: null, n: 0}})
    assert.equal(r.predictions.pending, 1)
  })
})
