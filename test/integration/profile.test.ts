import {strict as assert} from 'node:assert'
import {readFile, stat} from 'node:fs/promises'
import {join} from 'node:path'

import {dumpDom, screenshot} from '../support/chromium.js'
import {rps, scratch} from '../support/rps.js'

describe('rps profile', function () {
  let dir: string
  let env: Record<string, string>
  let params: string

  before(async () => {
    ;({dir, params} = await scratch())
    env = {RPS_DATA_DIR: join(dir, 'data')}
    await rps(['fetch', '--source', 'replay', '--at', '2026-06-30T23:00:00Z', '--past-hours', '2000', '--params', params], env)
    await rps(['check', '--source', 'replay', '--params', params], env)
    const featurize = await rps(['featurize', '--source', 'replay', '--params', params], env)
    assert.equal(featurize.exitCode, 0, featurize.stderr)
  })

  it('when run, then the JSON holds per-column statistics, correlations, coverage and the quality report', async () => {
    const run = await rps(['profile', '--out-dir', join(dir, 'reports'), '--params', params, '--json'], env)
    assert.equal(run.exitCode, 0, run.stderr)
    const profile = JSON.parse(await readFile(run.json.json, 'utf8'))
    const temp = profile.columns.find((c: {name: string}) => c.name === 'temperature_2m')
    assert.equal(temp.role, 'feature')
    assert.equal(temp.missing, 0)
    assert.ok(temp.min < temp.quantiles.p50 && temp.quantiles.p50 < temp.max)
    assert.equal(temp.histogram.reduce((a: number, b: {count: number}) => a + b.count, 0), temp.count)
    const current = profile.correlations.find((c: {feature: string}) => c.feature === 'temperature_2m')
    assert.ok(current.withTarget > 0.5, `temperature now correlates with temperature in 6 h (r=${current.withTarget})`)
    const hourCos = profile.correlations.find((c: {feature: string}) => c.feature === 'hour_cos')
    assert.ok(Math.abs(hourCos.withLabel) > 0.3, `the 6-hour change depends on the time of day (r=${hourCos.withLabel})`)
    // 2,000 hours ending 2026-06-30T23:00 start 2026-04-08T16:00: 84 calendar days
    assert.equal(profile.coverage.length, 84)
    assert.equal(profile.coverage[0].hours, 8)
    assert.equal(profile.quality.passed, true)
  })

  it('when opened in headless Chromium, then it renders every section with charts', async function () {
    const run = await rps(['profile', '--out-dir', join(dir, 'reports'), '--params', params, '--json'], env)
    const url = `file://${run.json.html}`
    const dom = await dumpDom(url)
    for (const id of ['overview', 'quality', 'coverage', 'correlations', 'columns']) assert.match(dom, new RegExp(`<section id="${id}"`))
    assert.ok((dom.match(/<svg/g) ?? []).length >= 50, 'a histogram per column plus the coverage and correlation charts')
    assert.doesNotMatch(dom, /<script/)
    const png = join(dir, 'profile.png')
    await screenshot(url, png)
    const info = await stat(png)
    // a blank 1280x2400 page compresses to a few KB; the rendered report is far larger
    assert.ok(info.size > 60_000, `screenshot has content (${info.size} bytes)`)
  })
})
