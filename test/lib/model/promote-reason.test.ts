import {strict as assert} from 'node:assert'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {DEFAULT_REASON, compareSummary, reasonFromDriftFile} from '../../../src/lib/model/promote.js'

describe('promotion reason (rps promote --reason-file, --compare-report)', () => {
  let dir: string
  const file = async (name: string, doc: unknown) => {
    const path = join(dir, name)
    await writeFile(path, typeof doc === 'string' ? doc : JSON.stringify(doc))
    return path
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rps-promote-reason-'))
  })

  after(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  it('when the drift check decided a retrain, then its trigger and reason are the promotion\'s', async () => {
    const path = await file('drift.json', {decision: {retrain: true, trigger: 'concept_drift', reason: 'MAE 2.31 = 1.80x validation in 2 of the last 3 windows'}})
    assert.deepEqual(await reasonFromDriftFile(path), {trigger: 'concept_drift', reason: 'MAE 2.31 = 1.80x validation in 2 of the last 3 windows'})
    const first = await file('first.json', {model: null, decision: {retrain: true, trigger: 'first_model', reason: 'no champion yet'}})
    assert.deepEqual(await reasonFromDriftFile(first), {trigger: 'first_model', reason: 'no champion yet'})
  })

  it('when there is no drift file, or it decided no retrain, then the promotion is manual', async () => {
    assert.deepEqual(await reasonFromDriftFile(join(dir, 'missing.json')), {trigger: 'manual', reason: DEFAULT_REASON})
    assert.deepEqual(await reasonFromDriftFile(undefined), {trigger: 'manual', reason: DEFAULT_REASON})
    const no = await file('no.json', {decision: {retrain: false, trigger: null, reason: 'drift in 0 of the last 3 windows (need 2 of 3)'}})
    assert.deepEqual(await reasonFromDriftFile(no), {trigger: 'manual', reason: `${DEFAULT_REASON} (the drift check decided no retrain: drift in 0 of the last 3 windows (need 2 of 3))`})
  })

  it('when the drift file is not JSON, has no decision or an unknown trigger, then it fails naming the file', async () => {
    await assert.rejects(reasonFromDriftFile(await file('bad.json', '{not json')), /cannot read the drift report .*bad\.json/)
    await assert.rejects(reasonFromDriftFile(await file('other.json', {decision: 'x'})), /other\.json has no decision/)
    await assert.rejects(reasonFromDriftFile(await file('odd.json', {decision: {retrain: true, trigger: 'moon', reason: 'r'}})), /odd\.json: unknown trigger "moon" \(known: first_model, concept_drift/)
  })

  it('when the compare report scored the promoted version, then its RMSEs are summarized; a stale report is ignored', async () => {
    const report = {
      decision: 'challenger_wins', challenger: {version: '2', scores: {rmse: 2.4123}}, champion: {version: '1', scores: {rmse: 3.8709}}, holdout: {rows: 72},
    }
    const path = await file('report.json', report)
    assert.equal(await compareSummary(path, '2'), 'challenger v2 holdout RMSE 2.412 vs champion v1 3.871 on 72 rows')
    assert.equal(await compareSummary(path, '3'), undefined, 'the report scored another version')
    const first = await file('first-report.json', {...report, challenger: {version: '1', scores: {rmse: 2.7}}, champion: null})
    assert.equal(await compareSummary(first, '1'), 'challenger v1 holdout RMSE 2.700 on 72 rows, no champion to beat')
    assert.equal(await compareSummary(join(dir, 'none.json'), '1'), undefined)
  })
})
