import {strict as assert} from 'node:assert'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {championFromDir} from '../../../src/lib/model/compare.js'
import {replayModel} from '../../support/model.js'

// rps compare --champion-dir: CI compares against production's champion exported with read-only
// credentials (rps export-model), never through the registry the candidate lives in.
describe('the champion from a model directory (rps compare --champion-dir)', function () {
  this.timeout(120_000)
  let modelDir: string
  let rowsX: number[][]
  before(async () => {
    const model = await replayModel({hours: 400, trees: 2})
    modelDir = model.modelDir
    rowsX = model.rows.X
  })

  const stamp = (body: object) => writeFile(join(modelDir, 'registry.json'), JSON.stringify(body))

  it('when the directory carries the export\'s stamp, then it is that version and it predicts', async () => {
    await stamp({name: 'rps-temperature', version: '7', alias: 'champion'})
    const champion = await championFromDir(modelDir, 'rps-temperature')
    assert.equal(champion.version.version, '7')
    assert.equal(champion.version.run_id, undefined)
    assert.equal(champion.model.predict(rowsX.slice(0, 3), [0, 0, 0]).length, 3)
  })

  it('when the stamp names another registered model, then it is refused as incomparable', async () => {
    await stamp({name: 'other-model', version: '7', alias: 'champion'})
    await assert.rejects(championFromDir(modelDir, 'rps-temperature'), (e: {code: string; message: string}) => e.code === 'INCOMPARABLE' && /other-model/.test(e.message))
  })

  it('when there is no stamp, then it is refused with the export command to run', async () => {
    await rm(join(modelDir, 'registry.json'), {force: true})
    await assert.rejects(championFromDir(modelDir, 'rps-temperature'), (e: {code: string; suggestions: string[]}) => e.code === 'MODEL_INVALID' && /rps export-model --alias champion/.test(e.suggestions.join(' ')))
  })

  it('when the directory is not a model, then it is refused naming the missing file', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'rps-no-model-'))
    await assert.rejects(championFromDir(empty, 'rps-temperature'), (e: {code: string; message: string}) => e.code === 'MODEL_INVALID' && /forest\.json/.test(e.message))
  })
})
