import {strict as assert} from 'node:assert'
import {existsSync, readFileSync} from 'node:fs'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {type Params, loadParams} from '../../../src/lib/config/params.js'
import {decideRetrain} from '../../../src/lib/drift/page-hinkley.js'
import type {ModelRows} from '../../../src/lib/model/dataset.js'
import {type SimulateResult, runSimulation} from '../../../src/lib/simulate/simulate.js'
import {labelledBy} from '../../../src/lib/simulate/run.js'
import {rps} from '../../support/rps.js'

const HOUR_MS = 3_600_000
const CHANGE = '2025-04-10T00:00:00.000Z'

/** The repo's params with small forests, so a 130-day replay with dozens of fits runs in seconds. */
function quickParams(): Params {
  const params = structuredClone(loadParams())
  params.simulate = {...(params.simulate as object), model: {n_estimators: 8, max_samples: 300, workers: 1}}
  return params
}

describe('rps simulate (the policy experiment)', function () {
  this.timeout(300_000)
  let dir: string
  let result: SimulateResult

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rps-simulate-'))
    // A changed amplitude from 10 April: temperatures (and so their daily swing) scaled by 1.6.
    result = await runSimulation(quickParams(), {days: 130, shift: `temperature_2m:*1.6@${CHANGE}`, outDir: dir})
  })

  after(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  it('when ground truth arrives horizon hours late, then only rows issued at least that long ago count as labelled', () => {
    const rows = {time: [0, 1, 2, 3, 4].map((h) => h * HOUR_MS)} as ModelRows
    assert.equal(labelledBy(rows, 6 * HOUR_MS, 6), 1)
    assert.equal(labelledBy(rows, 9 * HOUR_MS, 6), 4)
    assert.equal(labelledBy(rows, 5 * HOUR_MS, 6), 0)
  })

  it('when every policy replays the same hours, then each is scored on all of them and the static one never retrains', () => {
    const names = result.policies.map((p) => p.name)
    assert.deepEqual(names, ['static', 'periodic-1d', 'periodic-7d', 'drift-triggered'])
    for (const p of result.policies) assert.equal(p.overall.n, result.hoursScored)
    const byName = Object.fromEntries(result.policies.map((p) => [p.name, p]))
    assert.equal(byName.static!.retrains, 0)
    // 70 serving days, a check each day: the daily policy retrains at every one of them
    assert.equal(byName['periodic-1d']!.retrains, Math.floor((result.hoursScored - 1) / 24))
    assert.ok(byName['drift-triggered']!.retrains < byName['periodic-1d']!.retrains / 3)
  })

  it('when every horizon is forecast, then each policy is scored at each one on the same hours, beside both baselines', () => {
    const horizons = result.baselines.map((b) => b.horizon)
    assert.deepEqual(horizons, [1, 2, 3, 4, 5, 6])
    for (const p of result.policies) {
      assert.deepEqual(p.horizons.map((o) => [o.horizon, o.scores.n]), horizons.map((h) => [h, result.hoursScored]), p.name)
      assert.equal(p.horizons.at(-1)!.scores.rmse, p.overall.rmse, 'the longest horizon is the one drift watches')
      assert.ok(Math.abs(p.meanRmse - p.horizons.reduce((a, o) => a + o.scores.rmse, 0) / 6) < 1e-12)
      assert.ok(p.horizons[0]!.scores.rmse < p.horizons[5]!.scores.rmse, `${p.name}: +1 h is easier than +6 h`)
      for (const o of p.horizons) assert.deepEqual(Object.keys(o.bands), ['0.8', '0.95'])
    }
    const drift = result.policies.find((p) => p.name === 'drift-triggered')!
    for (const b of result.baselines) assert.ok(drift.horizons[b.horizon - 1]!.scores.rmse < b.persistence.rmse, `+${b.horizon} h beats persistence`)
    // The change scales every error by 1.6: the champions' calibrated bands fall short, the live (adaptive) ones keep their level.
    for (const o of drift.horizons) {
      const band = o.bands['0.8']!
      assert.ok(Math.abs(band.liveCoverage - 0.8) < Math.abs(band.staticCoverage - 0.8) || Math.abs(band.liveCoverage - 0.8) <= 0.02, `+${o.horizon} h: live ${band.liveCoverage}, calibrated ${band.staticCoverage}`)
      assert.ok(Math.abs(band.liveCoverage - 0.8) <= 0.05, `+${o.horizon} h live coverage ${band.liveCoverage}`)
    }
  })

  it('when the amplitude changes, then the drift policy detects it within four days and recovers, the static model does not', () => {
    const drift = result.policies.find((p) => p.name === 'drift-triggered')!
    const staticPolicy = result.policies.find((p) => p.name === 'static')!
    const outcome = drift.changePoints[0]!
    assert.equal(outcome.changePoint.at, CHANGE)
    assert.ok(outcome.driftDetectionDelayHours !== null && outcome.driftDetectionDelayHours <= 96, `detected after ${outcome.driftDetectionDelayHours} h`)
    // With 8-tree forests one horizon of the first challenger may miss the per-horizon tolerance: the next one, a cooldown later, wins.
    const promotedAfter = (Date.parse(outcome.firstPromotionAt!) - Date.parse(outcome.detectedByDriftAt!)) / HOUR_MS
    assert.ok(promotedAfter >= 0 && promotedAfter <= 96, `promoted ${promotedAfter} h after the drift retrain`)
    // Skill vs persistence is comparable across the change (the scaled series is harder for every forecast).
    const {skill} = outcome
    assert.ok(skill.after28to56d! >= skill.before28d! - 0.05, `skill before ${skill.before28d}, 28–56 d after ${skill.after28to56d}`)
    const staticSkill = staticPolicy.changePoints[0]!.skill
    for (const period of ['after7to14d', 'after14to28d', 'after28to56d'] as const) {
      assert.ok(skill[period]! > staticSkill[period]! + 0.1, `${period}: drift policy ${skill[period]} vs static ${staticSkill[period]}`)
    }
    assert.equal(staticPolicy.changePoints[0]!.driftDetectionDelayHours, null)
    assert.ok(drift.overall.rmse < staticPolicy.overall.rmse)
  })

  it('when it finishes, then the JSON, markdown and plot are written and agree', () => {
    const json = JSON.parse(readFileSync(join(dir, 'simulate.json'), 'utf8')) as SimulateResult
    assert.equal(json.policies.length, 4)
    assert.equal(json.series.shift, `temperature_2m:*1.6@${CHANGE}`)
    const md = readFileSync(join(dir, 'simulate.md'), 'utf8')
    for (const p of json.policies) assert.ok(md.includes(`| ${p.name} | ${p.meanRmse.toFixed(3)} | ${p.overall.rmse.toFixed(3)} |`), p.name)
    for (const file of ['simulate.png', 'simulate-fan.png']) assert.equal(readFileSync(join(dir, file)).subarray(1, 4).toString(), 'PNG', file)
    assert.ok(md.includes('| +6 h |') && md.includes('![sample fan chart](simulate-fan.png)'))
    assert.ok(existsSync(json.report.plot))
  })

  it('when a challenger lost recently, then the cooldown counts from that training, not from the champion', () => {
    const policy = {k: 2, n: 3, cooldownHours: 72, maxModelAgeHours: 720}
    assert.equal(decideRetrain([true, true, true], 200, policy).retrain, true)
    const waiting = decideRetrain([true, true, true], 200, policy, 30)
    assert.equal(waiting.retrain, false)
    assert.match(waiting.reason, /trained 30 h ago \(cooldown 72 h\)/)
    assert.equal(decideRetrain([true, true, true], 200, policy, 80).retrain, true)
    assert.equal(decideRetrain([false, false, false], 900, policy, 10).retrain, false, 'a champion no challenger beat is not retried at every check')
    assert.match(decideRetrain([false, false, false], 900, policy, 730).reason, /newest challenger is 730 h old \(max 720 h\)/)
  })
})

describe('rps simulate input errors', () => {
  it('when --station names no shipped station year, then it exits with a config error listing the shipped ones', async function () {
    this.timeout(60_000)
    const run = await rps(['simulate', '--station', 'atlantis', '--days', '30'])
    assert.equal(run.exitCode, 5, run.stderr)
    assert.match(run.stderr, /unknown station 'atlantis'; shipped: greensboro-nc, sand-point-ak, miami-fl/)
  })

  it('when a policy name is unknown, then it fails with the known names', async () => {
    await assert.rejects(runSimulation(quickParams(), {days: 60, policies: ['weekly'], outDir: tmpdir()}), /unknown policy 'weekly'; known: static, periodic-1d, periodic-7d, drift-triggered/)
  })

  it('when the shift is malformed, then it fails naming the part', async () => {
    await assert.rejects(runSimulation(quickParams(), {days: 60, shift: 'temperature_2m:x4@2025-02-01', outDir: tmpdir()}), /RPS_REPLAY_SHIFT part 'temperature_2m:x4@2025-02-01'/)
  })
})
