import {strict as assert} from 'node:assert'
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {dumpDom, screenshot} from '../support/chromium.js'
import {replayModel} from '../support/model.js'
import {readPng} from '../support/png.js'
import {rps} from '../support/rps.js'

type Rgb = [number, number, number]

/** `color` at `opacity` over `under`, as the browser composites it. */
const over = (under: Rgb, color: Rgb, opacity: number): Rgb => under.map((v, i) => v * (1 - opacity) + color[i]! * opacity) as Rgb
const hex = (h: string): Rgb => [1, 3, 5].map((i) => Number.parseInt(h.slice(i, i + 2), 16)) as Rgb

/** A model trained on the shipped replay year (no registry: --model-dir), its page opened in headless Chromium. */
describe('rps forecast: the forecast page in headless Chromium (replay data)', function () {
  this.timeout(300_000)
  let model: Awaited<ReturnType<typeof replayModel>>
  let env: Record<string, string>
  let page: string
  const forecast = () => rps(['forecast', '--model-dir', model.modelDir, '--params', model.params, '--json'], env)
  const withoutWrittenAt = (html: string) => html.replace(/Written \S+ by rps forecast/, '')

  before(async () => {
    model = await replayModel()
    env = {...model.env, RPS_WORKDIR: model.dir}
    page = join(model.dir, 'reports/live/forecast.html')
  })

  it('when rps forecast runs, then it writes the page beside live-errors.json and names it; a rerun in the same hour rewrites the same page from the log', async () => {
    const first = await forecast()
    assert.equal(first.exitCode, 0, first.stderr)
    assert.equal(first.json.appended, true)
    assert.equal(first.json.pageFile, page)
    assert.equal(first.json.liveErrorsFile, join(model.dir, 'reports/live/live-errors.json'))
    const html = await readFile(page, 'utf8')
    for (const p of first.json.path) assert.ok(html.includes(`<td class="num">${p.prediction.toFixed(1)}</td>`), `+${p.horizon} h in the table`)

    const again = await rps(['forecast', '--model-dir', model.modelDir, '--params', model.params], env)
    assert.equal(again.exitCode, 0, again.stderr)
    assert.match(again.stderr, /no new forecast: already logged/)
    assert.ok(again.stderr.includes(`forecast page: ${page}`))
    assert.equal(withoutWrittenAt(await readFile(page, 'utf8')), withoutWrittenAt(html))
  })

  it('when opened in headless Chromium, then it renders the chart and the table, and the chart shows both bands', async () => {
    const url = `file://${page}`
    const dom = await dumpDom(url)
    for (const id of ['chart', 'path']) assert.match(dom, new RegExp(`<section id="${id}"`))
    assert.doesNotMatch(dom, /<script/)
    // The bands' colours as drawn: the 95 % band alone, and the 80 % band on top of it.
    const areas = [...dom.matchAll(/aria-label="[^"]*band: (\d+) %[^"]*"[^>]*fill="(#[0-9a-f]{6})" opacity="([\d.]+)"/g)]
      .map((m) => ({level: Number(m[1]), fill: hex(m[2]!), opacity: Number(m[3])})).sort((a, b) => b.level - a.level)
    assert.deepEqual(areas.map((a) => a.level), [95, 80])
    const wide = over([255, 255, 255], areas[0]!.fill, areas[0]!.opacity)
    const narrow = over(wide, areas[1]!.fill, areas[1]!.opacity)

    const png = join(model.dir, 'forecast.png')
    await screenshot(url, png, '1280,1000')
    const image = await readPng(png)
    const near = (p: Rgb, c: Rgb) => p.every((v, i) => Math.abs(v - c[i]!) <= 3)
    const colours = new Set<string>()
    let [wideN, narrowN] = [0, 0]
    for (let y = 0; y < image.height; y++) {
      for (let x = 0; x < image.width; x++) {
        const p = image.rgb(x, y)
        colours.add(p.join())
        if (near(p, wide)) wideN++
        if (near(p, narrow)) narrowN++
      }
    }
    assert.ok(colours.size > 200, `the screenshot is not blank (${colours.size} colours)`)
    // the legend's two swatches are a few dozen pixels each: the shaded bands are far more
    assert.ok(wideN > 500, `95 % band colour ${wide.map(Math.round)}: ${wideN} pixels`)
    assert.ok(narrowN > 500, `80 % band colour ${narrow.map(Math.round)}: ${narrowN} pixels`)
  })
})
