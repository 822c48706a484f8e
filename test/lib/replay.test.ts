import {strict as assert} from 'node:assert'

import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {loadParams} from '../../src/lib/config/params.js'
import {runQualityGate} from '../../src/lib/quality/gate.js'
import {REPLAY_STATIONS, loadReplaySeries, replayRowIndex, replayStationOf} from '../../src/lib/sources/replay-series.js'
import {replaySource} from '../../src/lib/sources/replay.js'
import {projectRoot} from '../../src/lib/util/project.js'

describe('replay series', () => {
  it('when loaded, then it holds 8,760 hours of every documented variable with no gaps', () => {
    const s = loadReplaySeries()
    assert.deepEqual(s.columns, ['temperature_2m', 'relative_humidity_2m', 'dew_point_2m', 'surface_pressure', 'wind_speed_10m', 'wind_direction_10m', 'cloud_cover', 'shortwave_radiation'])
    for (const c of s.columns) {
      assert.equal(s.values[c]!.length, 8760)
      assert.ok(s.values[c]!.every((v) => typeof v === 'number'), `${c} has no missing values`)
    }
    const t = s.values.temperature_2m as number[]
    const july = t.slice(181 * 24, 212 * 24)
    const january = t.slice(0, 31 * 24)
    assert.ok(avg(july) > avg(january) + 15, 'a real seasonal cycle: July far warmer than January')
  })

  it('when mapping instants, then the same hour of any year maps to the same row and Feb 29 repeats Feb 28', () => {
    assert.equal(replayRowIndex(Date.UTC(2025, 0, 1, 0)), 0)
    assert.equal(replayRowIndex(Date.UTC(2025, 11, 31, 23)), 8759)
    assert.equal(replayRowIndex(Date.UTC(2027, 6, 4, 18)), replayRowIndex(Date.UTC(2025, 6, 4, 18)))
    assert.equal(replayRowIndex(Date.UTC(2028, 1, 29, 5)), replayRowIndex(Date.UTC(2028, 1, 28, 5)))
    assert.equal(replayRowIndex(Date.UTC(2028, 2, 1, 0)), replayRowIndex(Date.UTC(2027, 2, 1, 0)))
    assert.equal(replayRowIndex(Date.UTC(2028, 11, 31, 23)), 8759)
  })
})

describe('every shipped station year', () => {
  // The yearly mean temperature of each station: a unit slip in a conversion (tenths, Kelvin) lands far outside.
  const yearlyMean: Record<string, [number, number]> = {'greensboro-nc': [13, 16], 'sand-point-ak': [3, 6], 'miami-fl': [23, 26]}
  const params = loadParams()

  for (const station of REPLAY_STATIONS) {
    it(`when ${station.id} is read, then it has one row per hour of 2001, in order, every value inside the quality ranges`, () => {
      const lines = readFileSync(join(projectRoot(), station.file), 'utf8').trim().split('\n')
      const header = lines.shift()!.split(',')
      assert.deepEqual(header, ['time', ...params.variables])
      assert.equal(lines.length, 8760)
      lines.forEach((line, i) => assert.equal(line.split(',')[0], new Date(Date.UTC(2001, 0, 1) + i * 3_600_000).toISOString().slice(0, 16), `row ${i}`))
      const s = loadReplaySeries(join(projectRoot(), station.file))
      const ranges = params.quality.ranges as Record<string, [number, number]>
      for (const [variable, [lo, hi]] of Object.entries(ranges)) {
        const values = s.values[variable]!
        assert.ok(values.every((v) => v !== null && v >= lo && v <= hi), `${station.id} ${variable} inside [${lo}, ${hi}]`)
      }
      const [lo, hi] = yearlyMean[station.id]!
      const mean = avg(s.values.temperature_2m as number[])
      assert.ok(mean > lo && mean < hi, `${station.id} yearly mean ${mean.toFixed(2)} °C`)
      assert.equal(replayStationOf(station.file), station)
    })

    it(`when ${station.id} is replayed, then it passes the pipeline's quality gate and names its station`, async () => {
      const at = new Date('2026-07-01T12:00:00Z')
      const [capture] = await replaySource.fetch({
        params, location: {...params.location, name: station.id, latitude: station.latitude, longitude: station.longitude}, variables: params.variables,
        pastHours: 24 * 30, backfillDays: 0, now: at, at, env: {RPS_REPLAY_FILE: join(projectRoot(), station.file)},
      })
      assert.equal((capture!.meta.extra as {station: string}).station, station.name)
      const verdict = runQualityGate({format: 'open-meteo', body: JSON.parse(capture!.body), meta: capture!.meta, variables: params.variables, target: params.target, thresholds: params.quality})
      assert.ok(verdict.passed, verdict.failed.join(', '))
    })
  }
})

function avg(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length
}
