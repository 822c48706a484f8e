import {strict as assert} from 'node:assert'

import {candidateAlias} from '../../../src/lib/model/registry.js'

describe('candidate aliases (rps train --alias, compare --challenger, promote --from-alias)', () => {
  it('when the alias is a pull request\'s or the challenger, then it is accepted as it is', () => {
    for (const alias of ['pr-42', 'challenger', 'PR_7', 'nightly-2026']) assert.equal(candidateAlias(alias), alias)
  })

  it('when the alias is production\'s, then it is refused as a usage error naming rps promote', () => {
    for (const alias of ['champion', 'previous-champion']) {
      assert.throws(() => candidateAlias(alias), (e: {exitCode: number; message: string}) => e.exitCode === 2 && /only rps promote moves it/.test(e.message))
    }
  })

  it('when the alias is not one MLflow accepts, then it is refused with the rule', () => {
    for (const alias of ['', 'pr 42', 'v3', 'V12', 'latest', 'pr/42', 'x'.repeat(101)]) {
      assert.throws(() => candidateAlias(alias), (e: {exitCode: number; message: string}) => e.exitCode === 2 && /invalid alias/.test(e.message), alias)
    }
  })
})
