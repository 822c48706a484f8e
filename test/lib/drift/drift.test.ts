import {strict as assert} from 'node:assert'

import {seededRandom} from '../../../src/lib/model/forest-core.js'
import {PageHinkley, decideRetrain} from '../../../src/lib/drift/page-hinkley.js'
import {ksStatistic, psi} from '../../../src/lib/drift/psi.js'

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
