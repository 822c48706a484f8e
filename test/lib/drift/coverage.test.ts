import {strict as assert} from 'node:assert'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {liveCoverage} from '../../../src/lib/drift/check.js'
import {coverageShortfall, describeShortfall} from '../../../src/lib/drift/coverage.js'
import type {DriftSettings} from '../../../src/lib/drift/detect.js'
import {decideRetrain} from '../../../src/lib/drift/page-hinkley.js'
import type {LiveErrors} from '../../../src/lib/live/live-errors.js'

/** A live-errors.json as rps forecast writes it: version 3 served since `since`; the 7d window starts 2026-05-13. */
function live(coverage: Record<string, Record<string, number | null>>, withBands = 168, since = '2026-05-01T00:00:00.000Z'): Partial<LiveErrors> {
  const stats = {mae: 1, rmse: 1.2, n: withBands}
  return {
    windows: {'7d': {hours: 168, start: '2026-05-13T00:00:00.000Z', end: '2026-05-20T00:00:00.000Z', model: stats, persistence: stats}},
    by_version: {3: {name: 'rps', model: stats, persistence: stats, first_target_time: since, last_target_time: '2026-05-20T00:00:00.000Z'}},
    by_horizon: Object.fromEntries(Object.entries(coverage).map(([h, c]) => [h, {windows: {
      '24h': {model: stats, persistence: stats, coverage: {0.8: 0, 0.95: 0}, with_bands: withBands},
      '7d': {model: stats, persistence: stats, coverage: c, with_bands: withBands},
    }}])),
  }
}

describe('live band coverage as drift evidence', () => {
  it('when a band of the served version covers more than coverage_drop below its level over 7d, then the worst such band is the evidence', () => {
    const s = coverageShortfall(live({1: {0.8: 0.7, 0.95: 0.9}, 6: {0.8: 0.6, 0.95: 0.78}}), '3')
    assert.deepEqual(s, {horizon: 6, level: 0.8, coverage: 0.6, n: 168, window: '7d'})
    assert.equal(describeShortfall(s!), 'the 80 % band at 6 h covered 0.60 of 168 forecasts over 7d (< 0.80 - 0.15)')
  })

  it('when every band is within coverage_drop of its level (the 24h window does not count), then there is no evidence', () => {
    assert.equal(coverageShortfall(live({1: {0.8: 0.66, 0.95: 0.81}, 6: {0.8: null}}), '3'), null)
    assert.equal(coverageShortfall(live({6: {0.8: 0.7}}), '3', {coverage_drop: 0.05})?.coverage, 0.7)
  })

  it('when too few banded forecasts, another version, a version that has not served the whole window, or no per-horizon data, then no evidence', () => {
    const bad = {6: {0.8: 0.3}}
    assert.ok(coverageShortfall(live(bad), '3'))
    assert.equal(coverageShortfall(live(bad, 47), '3'), null)
    assert.ok(coverageShortfall(live(bad, 47), '3', {coverage_min_samples: 47}))
    assert.equal(coverageShortfall(live(bad), '4'), null)
    assert.equal(coverageShortfall(live(bad, 168, '2026-05-15T00:00:00.000Z'), '3'), null)
    assert.equal(coverageShortfall({...live(bad), by_horizon: undefined}, '3'), null)
    assert.equal(coverageShortfall(null, '3'), null)
  })

  it('when the decision has coverage evidence, then it is a concept_drift retrain after the cooldown, none inside it; with k of n flagged the errors decide', () => {
    const policy = {k: 2, n: 3, cooldownHours: 72, maxModelAgeHours: 24 * 30}
    const coverage = 'the 80 % band at 6 h covered 0.60 of 168 forecasts over 7d (< 0.80 - 0.15)'
    assert.deepEqual(decideRetrain([false, false, false], 200, policy, 200, {coverage}), {
      retrain: true, trigger: 'concept_drift', reason: `${coverage}; drift in 0 of the last 3 windows (need 2 of 3)`,
    })
    const inside = decideRetrain([false, false, false], 200, policy, 10, {coverage})
    assert.equal(inside.retrain, false)
    assert.match(inside.reason, /cooldown 72 h/)
    const young = decideRetrain([false], 10, policy, 10, {coverage})
    assert.equal(young.retrain, false)
    assert.equal(decideRetrain([false, false, false], 200, policy, 200).retrain, false)
    assert.doesNotMatch(decideRetrain([true, true, false], 200, policy, 200, {coverage}).reason, /band/)
  })

  it('when rps drift reads live-errors.json (RPS_LIVE_ERRORS_FILE), then a shortfall is evidence; a missing or corrupt file is none', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rps-drift-coverage-'))
    try {
      const file = join(dir, 'live-errors.json')
      const env = {RPS_LIVE_ERRORS_FILE: file}
      const settings = {coverage_drop: 0.15, coverage_min_samples: 48} as DriftSettings
      assert.equal(await liveCoverage(env, '3', settings), null)
      await writeFile(file, '{"by_horizon": {')
      assert.equal(await liveCoverage(env, '3', settings), null)
      await writeFile(file, JSON.stringify(live({6: {0.8: 0.5}})))
      assert.deepEqual(await liveCoverage(env, '3', settings), {horizon: 6, level: 0.8, coverage: 0.5, n: 168, window: '7d'})
      assert.equal(await liveCoverage(env, '3', {...settings, coverage_drop: 0.35}), null)
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })
})
