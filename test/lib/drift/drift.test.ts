import {strict as assert} from 'node:assert'

import {seededRandom} from '../../../src/lib/forest/forest-core.js'
import {forcedDecision} from '../../../src/lib/drift/check.js'
import {PageHinkley, decideRetrain} from '../../../src/lib/drift/page-hinkley.js'
import {ksStatistic, psi} from '../../../src/lib/stats/psi.js'

function normal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
}

describe('drift statistics', () => {
  it('when the current data fills the reference bins as expected, then PSI is 0; a hand-computed shift matches', () => {
    assert.equal(psi([1, 2, 3], [0.5, 1.5, 2.5, 3.5]).psi, 0)
    // bins (<=1, <=2, <=3, >3) expected 0.25 each; counts 2, 2, 0, 0 of 4, smoothed by half a
    // count per bin: shares 2.5/6, 2.5/6, 0.5/6, 0.5/6
    const r = psi([1, 2, 3], [0, 0.5, 1.5, 2])
    const a = 2.5 / 6
    const b = 0.5 / 6
    const expected = 2 * (a - 0.25) * Math.log(a / 0.25) + 2 * (b - 0.25) * Math.log(b / 0.25)
    assert.ok(Math.abs(r.psi - expected) < 1e-12, `${r.psi} vs ${expected}`)
  })

  it('when two samples are compared, then KS is the largest CDF gap', () => {
    assert.equal(ksStatistic([1, 2, 3, 4], [1, 2, 3, 4]), 0)
    assert.equal(ksStatistic([1, 2, 3, 4], [5, 6, 7, 8]), 1)
    assert.equal(ksStatistic([1, 2, 3, 4], [3, 4, 5, 6]), 0.5)
  })
})

describe('Page-Hinkley detector', () => {
  const detector = () => new PageHinkley(0.1, 8)

  it('when the error mean steps up, then it fires within a bounded delay', () => {
    const delays: number[] = []
    for (let seed = 1; seed <= 50; seed++) {
      const random = seededRandom(seed)
      const ph = detector()
      let firedAt = -1
      for (let t = 0; t < 600 && firedAt < 0; t++) {
        const x = 1 + 0.3 * normal(random) + (t >= 300 ? 1 : 0)
        if (ph.update(x) && t >= 300) firedAt = t
      }
      assert.ok(firedAt >= 300, `seed ${seed}: detected`)
      delays.push(firedAt - 300)
    }
    assert.ok(Math.max(...delays) <= 48, `detection delay at most 48 steps (max ${Math.max(...delays)})`)
  })

  it('when the errors are stationary noise, then false alarms are rare (measured over 200 seeded series)', () => {
    let alarms = 0
    let steps = 0
    for (let seed = 1000; seed < 1200; seed++) {
      const random = seededRandom(seed)
      const ph = detector()
      for (let t = 0; t < 500; t++, steps++) if (ph.update(1 + 0.3 * normal(random))) alarms++
    }
    assert.ok(alarms / steps < 0.0005, `false alarm rate ${alarms} in ${steps} steps`)
  })
})

describe('retrain hysteresis', () => {
  const policy = {k: 2, n: 3, cooldownHours: 24, maxModelAgeHours: 24 * 30}

  it('when a single window is bad, then no retrain; when k of n are, then retrain', () => {
    assert.equal(decideRetrain([false, true, false], 100, policy).retrain, false)
    assert.equal(decideRetrain([true, false, true], 100, policy).retrain, true)
    assert.equal(decideRetrain([true, true, false, false, false], 100, policy).retrain, false, 'only the last n windows count')
  })

  it('when inside the cooldown, then no retrain even with drift; past the maximum age, always', () => {
    assert.match(decideRetrain([true, true, true], 5, policy).reason, /cooldown/)
    assert.equal(decideRetrain([true, true, true], 5, policy).retrain, false)
    assert.equal(decideRetrain([false, false, false], 24 * 31, policy).retrain, true)
  })
})

describe('retrain decision: trigger and reason', () => {
  const policy = {k: 2, n: 3, cooldownHours: 72, maxModelAgeHours: 24 * 30, psiThreshold: 0.25}
  const quiet = {mae: 1.2, errorRatio: 0.94, pageHinkleyAlarm: false}
  const bad = (mae: number, ratio: number, alarm = false) => ({mae, errorRatio: ratio, pageHinkleyAlarm: alarm})

  it('when k of the last n windows are flagged, then the trigger is concept_drift and the reason carries the MAE, the ratio, the count and the PSI', () => {
    const d = decideRetrain([false, true, false, true], 200, policy, 200, {
      windows: [quiet, bad(2.2, 1.7, true), quiet, bad(2.42, 1.9)],
      psi: {temperature_2m: 0.12, surface_pressure: 0.41, cloud_cover: 0.3},
    })
    assert.deepEqual(d, {
      retrain: true, trigger: 'concept_drift',
      reason: 'MAE 2.31 = 1.80x validation in 2 of the last 3 windows; Page-Hinkley alarm in 1; PSI surface_pressure 0.41, cloud_cover 0.30 > 0.25',
    })
  })

  it('when the model is past its maximum age, then the trigger is max_age whatever the windows say', () => {
    const d = decideRetrain([false, false, false], 24 * 31, policy)
    assert.deepEqual([d.retrain, d.trigger, d.reason], [true, 'max_age', 'the model is 744 h old (max 720 h)'])
  })

  it('when no retrain is due, then the trigger is null and the reason says what was missing', () => {
    const d = decideRetrain([true, false, false], 200, policy, 200, {windows: [bad(2, 1.6), quiet, quiet]})
    assert.deepEqual(d, {retrain: false, trigger: null, reason: 'MAE 2.00 = 1.60x validation in 1 of the last 3 windows (need 2 of 3)'})
    assert.equal(decideRetrain([], 3, policy).reason, 'drift in 0 of the last 0 windows (need 2 of 3)')
  })

  it('when only the window PSI is above the threshold, then by default no retrain is due and the reason says data drift alone does not retrain', () => {
    const psi = {temperature_2m: 1.93, dew_point_2m: 2.2, surface_pressure: 0.3, wind_speed_10m: 0.9, cloud_cover: 0.1}
    const d = decideRetrain([false, false, false], 200, policy, 200, {psi})
    assert.equal(d.retrain, false)
    assert.equal(d.trigger, null)
    assert.equal(d.reason, 'drift in 0 of the last 3 windows (need 2 of 3); PSI dew_point_2m 2.20, temperature_2m 1.93, wind_speed_10m 0.90 (+1 more) > 0.25, data drift alone does not retrain')
  })

  it('when data drift retrains are on, then window PSI above the threshold is a retrain (data_drift) once the cooldown has passed, never inside it', () => {
    const on = {...policy, dataDriftRetrains: true}
    const psi = {temperature_2m: 0.61, relative_humidity_2m: 0.05}
    const due = decideRetrain([false, false, false], 100, on, 100, {psi})
    assert.deepEqual(due, {retrain: true, trigger: 'data_drift', reason: 'data drift: PSI temperature_2m 0.61 > 0.25; drift in 0 of the last 3 windows (need 2 of 3)'})
    const young = decideRetrain([false, false, false], 40, on, 40, {psi})
    assert.equal(young.retrain, false)
    assert.match(young.reason, /data drift, but the model is 40 h old \(cooldown 72 h\)/)
    const afterLoser = decideRetrain([false, false, false], 300, on, 20, {psi})
    assert.equal(afterLoser.retrain, false, 'a losing challenger 20 h ago restarts the cooldown')
    assert.equal(decideRetrain([false, false, false], 100, on, 100, {psi: {temperature_2m: 0.2}}).retrain, false, 'nothing above the threshold')
    assert.equal(decideRetrain([true, true, false], 100, on, 100, {psi}).trigger, 'concept_drift', 'error drift takes precedence')
  })

  it('when challengers keep losing while the champion holds up, then the cooldown backs off (x factor per further loss, capped at the maximum age) and a win resets it', () => {
    // The champion's errors are calm; data drift (window PSI) asks for a retrain.
    const backoff = {...policy, backoffFactor: 2, psiThreshold: 0.25, dataDriftRetrains: true}
    const calm = [false, false, false]
    const psi = {psi: {temperature_2m: 0.4}}
    // model 400 h old, the newest (losing) challenger 100 h ago
    assert.equal(decideRetrain(calm, 400, {...backoff, losingChallengers: 1}, 100, psi).retrain, true, 'one loss: the plain 72 h cooldown')
    const two = decideRetrain(calm, 400, {...backoff, losingChallengers: 2}, 100, psi)
    assert.equal(two.retrain, false)
    assert.match(two.reason, /cooldown 144 h, backed off after 2 losing challengers in a row/)
    assert.equal(decideRetrain(calm, 400, {...backoff, losingChallengers: 2}, 150, psi).trigger, 'data_drift')
    assert.equal(decideRetrain(calm, 600, {...backoff, losingChallengers: 3}, 250, psi).retrain, false, 'three losses: 288 h')
    assert.match(decideRetrain(calm, 2000, {...backoff, losingChallengers: 9}, 700, psi).reason, /cooldown 720 h/, 'capped at the maximum age')
    assert.equal(decideRetrain(calm, 2000, {...backoff, losingChallengers: 9}, 720, psi).trigger, 'max_age')
    assert.equal(decideRetrain(calm, 400, {...backoff, backoffFactor: 1, losingChallengers: 5}, 100, psi).retrain, true, 'no factor: no back-off')
    assert.equal(decideRetrain(calm, 100, {...backoff, losingChallengers: 0}, 100, psi).retrain, true, 'after a win the count is 0')
  })

  it('when challengers lost but the champion\'s own errors are drifting, then the plain cooldown applies, not the back-off', () => {
    const backoff = {...policy, backoffFactor: 2}
    const drifting = [true, true, true]
    assert.equal(decideRetrain(drifting, 400, {...backoff, losingChallengers: 2}, 100).trigger, 'concept_drift')
    assert.equal(decideRetrain(drifting, 2000, {...backoff, losingChallengers: 9}, 80).trigger, 'concept_drift')
    const young = decideRetrain(drifting, 400, {...backoff, losingChallengers: 9}, 60)
    assert.equal(young.retrain, false)
    assert.match(young.reason, /cooldown 72 h\)/)
  })

  it('when a retrain is forced, then the trigger is forced, or alert when an alert asked, and the reason keeps what the check saw', () => {
    const assessed = {retrain: false, trigger: null, reason: 'drift in 0 of the last 3 windows (need 2 of 3)'}
    assert.deepEqual(forcedDecision('schedule', assessed), {
      retrain: true, trigger: 'forced', reason: 'retrain forced (triggered by schedule); drift check: no retrain due (drift in 0 of the last 3 windows (need 2 of 3))',
    })
    const alert = forcedDecision('alert:RpsLiveErrorHigh', assessed)
    assert.equal(alert.trigger, 'alert')
    assert.match(alert.reason, /^alert RpsLiveErrorHigh asked for a retrain; drift check: no retrain due/)
    assert.equal(forcedDecision('alert:', {retrain: true, trigger: 'max_age', reason: 'old'}).reason, 'alert (unnamed) asked for a retrain; drift check: retrain due (old)')
  })
})
