import {strict as assert} from 'node:assert'

import type {ModelVersion} from '../../../src/lib/mlflow/client.js'
import {SEAL_TAG, checkSeal, promotionKey, sealOf} from '../../../src/lib/model/seal.js'

function version(tags: Record<string, string>, v = '3'): ModelVersion {
  return {name: 'rps-temperature', version: v, source: 'mlflow-artifacts:/1/r/artifacts/model', run_id: 'r', tags: Object.entries(tags).map(([key, value]) => ({key, value}))} as ModelVersion
}

describe('the promotion seal', () => {
  const digests = JSON.stringify({'forest.json': 'a'.repeat(64)})

  it('when no key is set, then sealing is off', () => {
    assert.equal(promotionKey({}), undefined)
    assert.equal(promotionKey({RPS_PROMOTION_KEY: ''}), undefined)
    assert.equal(promotionKey({RPS_PROMOTION_KEY: 'k'}), 'k')
  })

  it('when rps promote sealed the version with the same key, then it is accepted', () => {
    const unsealed = version({'rps.artifact_digests': digests})
    checkSeal(version({'rps.artifact_digests': digests, [SEAL_TAG]: sealOf('key', unsealed)}), 'key')
  })

  it('when the alias was moved by hand (no seal), the seal was made with another key, or names another version or other digests, then it is refused', () => {
    const base = version({'rps.artifact_digests': digests})
    assert.throws(() => checkSeal(base, 'key'), {code: 'MODEL_UNSEALED', message: 'rps-temperature v3 carries no promotion seal: it was not promoted by rps promote with this RPS_PROMOTION_KEY'})
    assert.throws(() => checkSeal(version({'rps.artifact_digests': digests, [SEAL_TAG]: sealOf('other', base)}), 'key'), {code: 'MODEL_UNSEALED', message: /a promotion seal that does not match/})
    const seal = sealOf('key', base)
    assert.throws(() => checkSeal(version({'rps.artifact_digests': digests, [SEAL_TAG]: seal}, '4'), 'key'), {code: 'MODEL_UNSEALED'})
    assert.throws(() => checkSeal(version({'rps.artifact_digests': JSON.stringify({'forest.json': 'b'.repeat(64)}), [SEAL_TAG]: seal}), 'key'), {code: 'MODEL_UNSEALED'})
    assert.throws(() => checkSeal(version({[SEAL_TAG]: 'zz'}), 'key'), {code: 'MODEL_UNSEALED'})
  })
})
