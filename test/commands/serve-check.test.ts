import {strict as assert} from 'node:assert'
import {appendFile, mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {rps} from '../support/rps.js'
import {writeTinyModel} from '../support/tiny-model.js'

/** `rps serve --check`: what Dockerfile.serve runs on the model it bakes in. */
describe('rps serve --check', function () {
  this.timeout(60_000)

  it('when the model directory matches its recorded digests, then it exits 0 without listening; when a file changed, 1 naming it', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'rps-check-')), 'model')
    await writeTinyModel(dir, 1, {name: 'rps-temperature', version: '9', alias: 'champion'})
    const ok = await rps(['serve', '--model-dir', dir, '--check', '--json'])
    assert.equal(ok.exitCode, 0, ok.stderr)
    assert.deepEqual(ok.json, {url: '', stoppedBy: 'check', model: {name: 'rps-temperature', version: '9', alias: 'champion', verified: true}})
    await appendFile(join(dir, 'model.json'), ' ')
    const refused = await rps(['serve', '--model-dir', dir, '--check'])
    assert.equal(refused.exitCode, 1)
    assert.match(refused.stderr, /model check failed: model in .* does not match its recorded digests: model\.json has sha256/)
  })

  it('when the model directory has no recorded digests, then it passes, saying it is unverified', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'rps-check-')), 'model')
    await writeTinyModel(dir, 1)
    const ok = await rps(['serve', '--model-dir', dir, '--check'])
    assert.equal(ok.exitCode, 0, ok.stderr)
    assert.match(ok.stderr, /model ok: rps-temperature vlocal UNVERIFIED \(no recorded digests\)/)
  })
})
