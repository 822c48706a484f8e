import {strict as assert} from 'node:assert'

import {join} from 'node:path'

import {loadParams} from '../../src/lib/config/params.js'
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

describe('the replay source names the station it replays', () => {
  for (const station of REPLAY_STATIONS) {
    it(`when ${station.id} is replayed, then the capture names it and its elevation`, async () => {
      const params = loadParams()
      const at = new Date('2026-07-01T12:00:00Z')
      const [capture] = await replaySource.fetch({
        params, location: params.location, variables: params.variables, pastHours: 24, backfillDays: 0, now: at, at, env: {RPS_REPLAY_FILE: join(projectRoot(), station.file)},
      })
      assert.equal((capture!.meta.extra as {station: string}).station, station.name)
      assert.equal((JSON.parse(capture!.body) as {elevation: number}).elevation, station.elevation)
      assert.equal(replayStationOf(station.file), station)
    })
  }
})

function avg(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length
}
