import {strict as assert} from 'node:assert'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {ModelVersion} from '../../../src/lib/mlflow/client.js'
import {compareGate} from '../../../src/lib/model/promote.js'

const v = (version: string, runId = `run${version}`): ModelVersion => ({name: 'm', version, source: '', run_id: runId})
const report = (challenger: string, champion: string | null, passed: boolean, extra: object = {}) => ({
  registeredModel: 'm', decision: passed ? 'challenger_wins' : 'challenger_loses', passed, toleranceRmse: 0,
  challenger: {version: challenger, runId: `run${challenger}`, scores: {rmse: passed ? 2.4 : 3.163}},
  champion: champion ? {version: champion, runId: `run${champion}`, scores: {rmse: 2.635}} : null,
  holdout: {rows: 72}, ...extra,
})

describe('the promotion gate (compare report vs the registry\'s current aliases)', () => {
  let dir: string
  const file = async (doc: unknown) => {
    const path = join(dir, `${Math.random()}.json`)
    await writeFile(path, JSON.stringify(doc))
    return path
  }
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rps-gate-'))
  })
  after(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  it('when the report scored exactly this challenger against the current champion and passed, then the gate opens with the numbers', async () => {
    const g = await compareGate(await file(report('4', '3', true)), 'm', v('4'), v('3'))
    assert.deepEqual(g, {passed: true, reason: 'challenger v4 holdout RMSE 2.400 vs champion v3 2.635 on 72 rows'})
  })

  it('when the report says the challenger lost, then the gate refuses with both RMSEs', async () => {
    const g = await compareGate(await file(report('4', '3', false)), 'm', v('4'), v('3'))
    assert.equal(g.passed, false)
    assert.equal(g.reason, 'rps compare decided challenger_loses: challenger v4 holdout RMSE 3.163 vs champion v3 2.635 on 72 rows (tolerance 0)')
  })

  it('when the report is stale (other challenger, other champion, other run, other model) or missing, then the gate refuses', async () => {
    assert.match((await compareGate(await file(report('3', '2', true)), 'm', v('4'), v('3'))).reason, /its challenger is v3/)
    assert.match((await compareGate(await file(report('4', '2', true)), 'm', v('4'), v('3'))).reason, /its champion was v2, the current one is v3/)
    assert.match((await compareGate(await file(report('4', null, true)), 'm', v('4'), v('3'))).reason, /its champion was \(none\), the current one is v3/)
    assert.match((await compareGate(await file(report('4', '3', true)), 'm', v('4', 'other'), v('3'))).reason, /its challenger came from run run4, v4 from run other/)
    assert.match((await compareGate(await file(report('4', '3', true)), 'other', v('4'), v('3'))).reason, /it is about 'm'/)
    assert.match((await compareGate(join(dir, 'missing.json'), 'm', v('4'), v('3'))).reason, /no comparison report at .*missing\.json for challenger v4 vs champion v3/)
  })

  it('when there is no champion yet, then the first model passes with or without a report', async () => {
    assert.equal((await compareGate(undefined, 'm', v('1'), undefined)).passed, true)
    assert.equal((await compareGate(await file(report('7', '6', false)), 'm', v('1'), undefined)).passed, true)
  })

  it('when the report is the one rps compare recorded on the version, then the gate reads it like a file, and its absence refuses', async () => {
    const recorded = (doc: unknown) => ({where: 'the comparison recorded on v4 (tag rps.compare_report)', json: doc === undefined ? undefined : JSON.stringify(doc)})
    assert.deepEqual(await compareGate(recorded(report('4', '3', true)), 'm', v('4'), v('3')), {passed: true, reason: 'challenger v4 holdout RMSE 2.400 vs champion v3 2.635 on 72 rows'})
    assert.match((await compareGate(recorded(report('4', '2', true)), 'm', v('4'), v('3'))).reason, /^the comparison recorded on v4 \(tag rps\.compare_report\) is not a comparison of challenger v4 vs champion v3 \(its champion was v2/)
    assert.match((await compareGate(recorded(undefined), 'm', v('4'), v('3'))).reason, /^no comparison report at the comparison recorded on v4 \(tag rps\.compare_report\) for challenger v4 vs champion v3$/)
    await assert.rejects(compareGate({where: 'tag', json: '{not json'}, 'm', v('4'), v('3')), /cannot read the compare report in tag/)
  })
})
