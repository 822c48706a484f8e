import {strict as assert} from 'node:assert'

import {loadParams, paramsProblems} from '../../../src/lib/config/params.js'
import {ConfigError} from '../../../src/lib/errors.js'
import {scratch} from '../../support/rps.js'

describe('params.yaml validation (before any work)', () => {
  it('when the shipped params.yaml is loaded, then it has no problem', async () => {
    const {params} = await scratch()
    assert.deepEqual(paramsProblems(loadParams(params)), [])
  })

  it('when feature inputs or the target are not in variables, then every problem is listed with its key, exit 5', async () => {
    const {params} = await scratch((p) => {
      p.variables = p.variables.filter((v: string) => v !== 'surface_pressure' && v !== 'relative_humidity_2m')
      p.target = 'apparent_temperature'
    })
    let error: unknown
    try {
      loadParams(params)
    } catch (e) {
      error = e
    }
    assert.ok(error instanceof ConfigError)
    assert.equal(error.exitCode, 5)
    assert.match(error.message, /target: 'apparent_temperature' must be one of variables/)
    assert.match(error.message, /features\.lag_variables: relative_humidity_2m, surface_pressure are not in variables/)
    assert.match(error.message, /features\.rolling_variables: relative_humidity_2m is not in variables/)
    assert.match(error.message, /features\.diffs: surface_pressure is not in variables/)
    assert.match(error.suggestions[0]!, /fix target, features\.lag_variables, features\.rolling_variables, features\.diffs in /)
  })
})
