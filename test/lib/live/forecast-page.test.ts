import {strict as assert} from 'node:assert'

import {type ForecastPageInput, bandSourceLine, forecastPagePath, observedUpTo, renderForecastPage} from '../../../src/lib/live/forecast-page.js'
import type {PredictionRecord} from '../../../src/lib/live/prediction-log.js'

const H = 3_600_000
const ISSUED = Date.parse('2026-05-20T00:00:00Z')

function record(horizon: number, extra: Partial<PredictionRecord> = {}): PredictionRecord {
  const prediction = 18 - horizon * 0.5
  return {
    issued_at: new Date(ISSUED).toISOString(), target_time: new Date(ISSUED + horizon * H).toISOString(), prediction, persistence: 18.5,
    model: {name: 'rps-temperature', version: '3'}, source: 'forecast', logged_at: new Date(ISSUED).toISOString(), horizon,
    bands: {'0.8': [prediction - horizon * 0.3, prediction + horizon * 0.3], '0.95': [prediction - horizon * 0.5, prediction + horizon * 0.5]},
    band_source: {'0.8': 'calibration', '0.95': 'calibration'},
    ...extra,
  }
}

function input(extra: Partial<ForecastPageInput> = {}): ForecastPageInput {
  return {
    location: 'greensboro-nc', target: 'temperature_2m', model: {name: 'rps-temperature', version: '3', alias: 'champion'},
    issuedAt: new Date(ISSUED).toISOString(), writtenAt: '2026-05-20T00:05:00.000Z',
    observed: Array.from({length: 48}, (_, i) => ({time: ISSUED - (47 - i) * H, value: 15 + 5 * Math.sin(i / 4)})),
    path: [1, 2, 3, 4, 5, 6].map((h) => record(h)),
    ...extra,
  }
}

/** The SVG marks vega drew, by their aria-roledescription, each with its aria-label and path data. */
function marks(html: string, role: string): {label: string; d: string}[] {
  const re = new RegExp(`<(?:path|text) aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="${role}"[^>]*?(?: d="([^"]*)")?[^>]*>`, 'g')
  return [...html.matchAll(re)].map((m) => ({label: m[1]!, d: m[2] ?? ''}))
}

const vertices = (d: string) => (d.match(/[ML]/g) ?? []).length

describe('forecast page', () => {
  it('when rendered, then the chart holds the 48 observed hours, every horizon\'s labelled point and both bands, and the table every horizon', async () => {
    const html = await renderForecastPage(input())
    const lines = marks(html, 'line mark')
    const observed = lines.filter((l) => !l.label.includes('issued'))
    assert.equal(observed.length, 1)
    assert.equal(vertices(observed[0]!.d), 48, 'one vertex per observed hour')
    // the path starts at the issue hour's observation, then one point per horizon
    assert.equal(marks(html, 'point').length, 7)
    assert.deepEqual(marks(html, 'text mark').map((t) => t.label.match(/label: (\S+)/)![1]), ['+1', '+2', '+3', '+4', '+5', '+6'])
    const areas = marks(html, 'area mark')
    assert.deepEqual(areas.map((a) => a.label.match(/band: (\d+ %)/)![1]).sort(), ['80 %', '95 %'])
    for (const a of areas) assert.equal(vertices(a.d), 2 * 7, 'upper and lower edge from the issue hour to +6 h')
    for (const r of input().path) {
      const [lo80, hi80] = r.bands!['0.8']!
      const [lo95, hi95] = r.bands!['0.95']!
      const row = `<tr><td>+${r.horizon} h</td><td>${r.target_time.slice(0, 16).replace('T', ' ')} UTC</td><td class="num">${r.prediction.toFixed(1)}</td>`
        + `<td class="num">${lo80.toFixed(1)} … ${hi80.toFixed(1)}</td><td class="num">${lo95.toFixed(1)} … ${hi95.toFixed(1)}</td></tr>`
      assert.ok(html.includes(row), `table row of +${r.horizon} h: ${row}`)
    }
    assert.match(html, /<h1>rps forecast — greensboro-nc<\/h1>/)
    assert.match(html, /Model rps-temperature v3 \(@champion\) · issued 2026-05-20 00:00 UTC/)
    assert.match(html, /Bands: the training calibration \(split conformal on the model&#39;s holdout\), at every horizon\. Written 2026-05-20T00:05:00.000Z by rps forecast\./)
    assert.doesNotMatch(html, /<script|<link|<img|\bsrc=|url\(/, 'self-contained: no scripts, no external assets')
  })

  it('when location, model and target hold markup, then every one is escaped', async () => {
    const html = await renderForecastPage(input({
      location: '<script>alert(1)</script>', target: 'temp<b>2m</b>', model: {name: 'm"&<i>', version: '<3>', alias: "o'neil"},
    }))
    assert.doesNotMatch(html, /<script|<b>|<i>|<3>|o'neil/)
    assert.match(html, /<h1>rps forecast — &lt;script&gt;alert\(1\)&lt;\/script&gt;<\/h1>/)
    assert.match(html, /Model m&quot;&amp;&lt;i&gt; v&lt;3&gt; \(@o&#39;neil\)/)
    assert.match(html, /forecast \(temp&lt;b&gt;2m&lt;\/b&gt;\)/)
  })

  it('when the path has no bands, then it still renders the observed hours, the points and the table, and says there are none', async () => {
    const path = [1, 2, 3].map((h) => record(h, {bands: undefined, band_source: undefined}))
    const html = await renderForecastPage(input({path}))
    assert.equal(marks(html, 'area mark').length, 0)
    assert.equal(marks(html, 'point').length, 4)
    assert.equal(vertices(marks(html, 'line mark').find((l) => !l.label.includes('issued'))!.d), 48)
    assert.match(html, /<th class="num">forecast \(temperature_2m\)<\/th><\/tr><tr><td>\+1 h<\/td>/, 'no band columns')
    assert.match(html, /Bands: none: the model has no calibration, at every horizon\./)
  })

  it('when some horizons lack a band or its recorded source, then the table shows a dash and the line names each source by horizon', async () => {
    const path = [
      record(1, {band_source: {'0.8': 'live', '0.95': 'live'}}),
      record(2, {band_source: {'0.8': 'live', '0.95': 'calibration'}}),
      record(3, {band_source: undefined}),
      record(4, {bands: {'0.8': [15, 17]}, band_source: {'0.8': 'calibration'}}),
      record(5),
    ]
    const html = await renderForecastPage(input({path}))
    assert.match(html, /<td class="num">15\.0 … 17\.0<\/td><td class="num">—<\/td><\/tr>/)
    assert.equal(marks(html, 'area mark').length, 2)
    assert.equal(bandSourceLine(path), 'Bands: live adaptive bands (adaptive conformal inference over this version\'s scored forecasts) at +1 h; '
      + 'live bands for some levels, the training calibration for others at +2 h; '
      + 'not recorded in the prediction log (a line written before rps recorded it) at +3 h; '
      + 'the training calibration (split conformal on the model\'s holdout) at +4 h, +5 h.')
  })

  it('when the history runs past the issue hour or has gaps, then the observed hours are the 48 up to the issue hour with values', () => {
    const time = Array.from({length: 60}, (_, i) => ISSUED - 50 * H + i * H)
    const values = time.map((t, i) => (t === ISSUED - 10 * H ? null : i))
    const observed = observedUpTo({time, collectedAt: time.map(() => null), columns: {temperature_2m: values}}, 'temperature_2m', ISSUED)
    assert.equal(observed.length, 47, '48 hours, one without a value')
    assert.equal(observed[0]!.time, ISSUED - 47 * H)
    assert.equal(observed.at(-1)!.time, ISSUED)
  })

  it('when RPS_FORECAST_PAGE is set, then the page goes there, else beside the live errors file', () => {
    assert.equal(forecastPagePath('/r/live/live-errors.json', {}), '/r/live/forecast.html')
    assert.equal(forecastPagePath('/r/live/live-errors.json', {RPS_FORECAST_PAGE: '/x/page.html'}), '/x/page.html')
  })
})
