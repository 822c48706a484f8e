import {strict as assert} from 'node:assert'
import {readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'

import {loadParams} from '../../src/lib/config/params.js'
import {runQualityGate} from '../../src/lib/quality/gate.js'
import {replaySource} from '../../src/lib/sources/replay.js'
import {HOUR_MS, REPLAY_STATION, REPLAY_STATIONS, type ReplayStation, replayFilePath} from '../../src/lib/sources/replay-series.js'
import {ROOT} from '../support/rps.js'

const HEADER = 'time,temperature_2m,relative_humidity_2m,dew_point_2m,surface_pressure,wind_speed_10m,wind_direction_10m,cloud_cover,shortwave_radiation'

/** Yearly mean dry-bulb temperature (°C) a correct conversion gives; a unit slip lands far outside. */
const MEAN_TEMPERATURE: Record<string, [number, number]> = {
  'greensboro-nc': [14, 15],
  'sand-point-ak': [4, 5],
  'miami-fl': [24, 25],
}

interface ReplayFile {
  time: string[]
  columns: string[]
  cells: string[][]
}

function readReplayFile(station: ReplayStation): ReplayFile {
  const [header, ...lines] = readFileSync(join(ROOT, station.file), 'utf8').trimEnd().split('\n')
  const rows = lines.map((line) => line.split(','))
  return {time: rows.map((r) => r[0]!), columns: (header ?? '').split(',').slice(1), cells: rows.map((r) => r.slice(1))}
}

function columnValues(file: ReplayFile, column: string): number[] {
  const i = file.columns.indexOf(column)
  return file.cells.map((r) => r[i]!).filter((c) => c !== '').map(Number)
}

/** UTC hour label (end of the hour) with the most sunshine over the year. */
function sunniestHour(file: ReplayFile): number {
  const i = file.columns.indexOf('shortwave_radiation')
  const byHour = new Array<number>(24).fill(0)
  file.time.forEach((t, row) => (byHour[Number(t.slice(11, 13))]! += Number(file.cells[row]![i] || 0)))
  return byHour.indexOf(Math.max(...byHour))
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length

describe('shipped replay stations', () => {
  const params = loadParams(join(ROOT, 'params.yaml'))

  it('when RPS_REPLAY_FILE is not set, then the first station (greensboro-nc) is the default replay file', () => {
    assert.equal(REPLAY_STATION, REPLAY_STATIONS[0])
    assert.equal(REPLAY_STATION.id, 'greensboro-nc')
    assert.equal(replayFilePath({}), join(ROOT, 'data/replay/greensboro-nc.csv'))
  })

  it('when data/replay is listed, then every CSV in it is a station of the table and every station has its file', () => {
    const shipped = readdirSync(join(ROOT, 'data/replay')).filter((f) => f.endsWith('.csv')).map((f) => `data/replay/${f}`)
    assert.deepEqual(shipped.sort(), REPLAY_STATIONS.map((s) => s.file).sort())
    assert.deepEqual(REPLAY_STATIONS.map((s) => s.id).sort(), Object.keys(MEAN_TEMPERATURE).sort())
  })

  for (const station of REPLAY_STATIONS) {
    describe(station.id, () => {
      const file = readReplayFile(station)

      it('when read, then it has the shared header and one row per hour of 2001, in order, none missing or repeated', () => {
        assert.deepEqual(['time', ...file.columns].join(','), HEADER)
        assert.equal(file.time.length, 8760)
        file.time.forEach((t, i) => assert.equal(t, new Date(Date.UTC(2001, 0, 1) + i * HOUR_MS).toISOString().slice(0, 16), `row ${i}`))
        assert.ok(file.cells.every((r) => r.length === file.columns.length), 'every row has every column')
      })

      it('when read, then every value is a number inside params.yaml quality.ranges, or empty when missing', () => {
        for (const column of file.columns) {
          const range = params.quality.ranges[column]
          assert.ok(range, `params.yaml has a range for ${column}`)
          const i = file.columns.indexOf(column)
          const bad = file.cells.map((r) => r[i]!).filter((c) => c !== '' && !(Number(c) >= range[0] && Number(c) <= range[1]))
          assert.deepEqual(bad.slice(0, 5), [], `${column} outside [${range.join(', ')}]`)
        }
      })

      it('when its yearly mean temperature is taken, then it is plausible for the station', () => {
        const [lo, hi] = MEAN_TEMPERATURE[station.id]!
        const t = mean(columnValues(file, 'temperature_2m'))
        assert.ok(t >= lo && t <= hi, `mean ${t.toFixed(2)} °C not in [${lo}, ${hi}]`)
      })

      it('when sunshine is averaged by UTC hour, then it peaks at the station\'s solar noon (the UTC offset was applied)', () => {
        const solarNoonUtc = 12 - station.longitude / 15
        // An hour's label is its end, so the sunniest hour's middle is half an hour earlier.
        const off = Math.abs(((sunniestHour(file) - 0.5 - solarNoonUtc + 36) % 24) - 12)
        assert.ok(off <= 0.5, `sunniest hour ends ${sunniestHour(file)}:00 UTC, solar noon ${solarNoonUtc.toFixed(2)} UTC`)
      })

      it('when a whole year is replayed through the replay source, then it passes the quality gate', async () => {
        const at = new Date('2025-12-31T23:30:00Z')
        const [capture] = await replaySource.fetch({
          params, location: params.location, variables: params.variables, pastHours: 8760, backfillDays: 0,
          now: at, at, env: {RPS_REPLAY_FILE: join(ROOT, station.file)},
        })
        assert.ok(capture)
        const body = JSON.parse(capture.body) as {hourly: Record<string, unknown[]>}
        assert.equal(body.hourly.time!.length, 8760)
        assert.equal(body.hourly.time![0], '2025-01-01T00:00')
        const verdict = runQualityGate({format: 'open-meteo', body, meta: capture.meta, variables: params.variables, target: params.target, thresholds: params.quality})
        assert.deepEqual(verdict.failed, [])
        assert.equal(verdict.rows, 8760)
      })
    })
  }
})
