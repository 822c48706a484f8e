import {strict as assert} from 'node:assert'
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {computeDigests, parseDigests, verifyDigests} from '../../../src/lib/model/digests.js'
import {containedPath} from '../../../src/lib/util/contained-path.js'
import {writeTinyModel} from '../../support/tiny-model.js'

describe('model artifact digests', () => {
  let dir: string
  beforeEach(async () => {
    dir = join(await mkdtemp(join(tmpdir(), 'rps-digests-')), 'model')
    await writeTinyModel(dir, 1, {name: 'rps-temperature', version: '3', alias: 'champion'})
  })

  it('when a model directory is hashed, then every model file has its sha256 and registry.json is left out', async () => {
    const digests = await computeDigests(dir)
    assert.deepEqual(Object.keys(digests), ['MLmodel', 'features.json', 'forest.json', 'model.json'])
    for (const sha of Object.values(digests)) assert.match(sha, /^[0-9a-f]{64}$/)
  })

  it('when nothing changed, then the directory verifies', async () => {
    await verifyDigests(dir, await computeDigests(dir))
  })

  it('when a file was changed, removed or added, then verification names it', async () => {
    const digests = await computeDigests(dir)
    await assert.rejects(verifyDigests(dir, {...digests, 'extra.json': digests['forest.json']!}), {message: /does not match its recorded digests: extra\.json is missing/})
    const {'model.json': _model, ...withoutMeta} = digests
    await assert.rejects(verifyDigests(dir, withoutMeta), {message: /does not match its recorded digests: model\.json not recorded/})
    await writeFile(join(dir, 'forest.json'), (await readFile(join(dir, 'forest.json'), 'utf8')).replace('"distribution":1', '"distribution":9'))
    await assert.rejects(verifyDigests(dir, digests), {code: 'MODEL_DIGEST_MISMATCH', message: /does not match its recorded digests: forest\.json has sha256 [0-9a-f]{12}…, [0-9a-f]{12}… was recorded/})
    await rm(join(dir, 'forest.json'))
    await assert.rejects(verifyDigests(dir, digests), {message: /does not match its recorded digests: forest\.json is missing/})
  })

  it('when recorded digests are malformed or name a path outside the directory, then they are refused', async () => {
    assert.throws(() => parseDigests('not json', 'the tag'), {code: 'MODEL_DIGEST_MISMATCH', message: /recorded in the tag are malformed/})
    assert.throws(() => parseDigests({'forest.json': 'abc'}, 'x'), {code: 'MODEL_DIGEST_MISMATCH'})
    assert.throws(() => parseDigests({}, 'x'), {code: 'MODEL_DIGEST_MISMATCH'})
    await assert.rejects(verifyDigests(dir, {'../../etc/passwd': 'a'.repeat(64)}), {code: 'PATH_OUTSIDE'})
  })

  it('when a path is joined, then only paths that stay inside the base are accepted', () => {
    assert.equal(containedPath('/base', 'a/b.json'), '/base/a/b.json')
    assert.equal(containedPath('/base', '..hidden'), '/base/..hidden')
    for (const bad of ['../x', '/etc/passwd', 'a/../../x', '', '.', 'a/..', 'x\0y']) {
      assert.throws(() => containedPath('/base', bad), {code: 'PATH_OUTSIDE'}, bad)
    }
  })
})
