import {strict as assert} from 'node:assert'
import {execa} from 'execa'
import {join} from 'node:path'

import {replayModel} from '../support/model.js'
import {ROOT} from '../support/rps.js'
import {startServe} from '../support/serve.js'

/** The delivery job's check (scripts/verify-deployment), run against the real `rps serve` as the image runs it. */
describe('scripts/verify-deployment against rps serve', function () {
  this.timeout(120_000)

  it('when the served model answers, then verification passes; when the server is gone, it fails with a reason', async () => {
    const fixture = await replayModel()
    const serve = await startServe(['--model-dir', fixture.modelDir])
    const ok = await execa(join(ROOT, 'scripts/verify-deployment'), [serve.url, '--timeout', '30'], {reject: false, all: true})
    assert.equal(ok.exitCode, 0, String(ok.all))
    await serve.stop()
    const down = await execa(join(ROOT, 'scripts/verify-deployment'), [serve.url, '--timeout', '3'], {reject: false, all: true})
    assert.notEqual(down.exitCode, 0)
    assert.match(String(down.all), /health|unreachable|refused|timed out/i)
  })
})
