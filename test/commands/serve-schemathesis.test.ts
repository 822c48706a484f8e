import {strict as assert} from 'node:assert'
import {spawn} from 'node:child_process'
import {join} from 'node:path'

import {replayModel} from '../support/model.js'
import {ROOT} from '../support/rps.js'
import {type ServeProcess, startServe} from '../support/serve.js'

function run(command: string, args: string[], env: Record<string, string> = {}): Promise<{code: number | null; output: string}> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {cwd: ROOT, env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'pipe']})
    let output = ''
    child.stdout.on('data', (d: Buffer) => (output += d.toString()))
    child.stderr.on('data', (d: Buffer) => (output += d.toString()))
    child.once('error', reject)
    child.once('exit', (code) => resolve({code, output}))
  })
}

/**
 * schemathesis --checks all against the served OpenAPI document: no 5xx, every status and body as
 * documented, schema-invalid requests rejected, schema-valid ones accepted, 405 with Allow for
 * wrong methods. A bounded number of examples keeps it to about a minute.
 */
describe('rps serve against its OpenAPI document (schemathesis)', function () {
  this.timeout(900_000)
  let serve: ServeProcess
  const token = 'schemathesis-token'

  before(async () => {
    const install = await run(join(ROOT, 'scripts/install-schemathesis.sh'), [])
    assert.equal(install.code, 0, install.output)
    const fixture = await replayModel()
    serve = await startServe(['--model-dir', fixture.modelDir, '--max-instances', '50'], {RPS_ADMIN_TOKEN: token})
  })
  after(async () => {
    await serve?.stop()
  })

  it('when schemathesis runs every check on every operation, then it finds no failure', async () => {
    const venv = process.env.RPS_SCHEMATHESIS_VENV ?? join(ROOT, '.rps/venv-schemathesis')
    const result = await run(join(venv, 'bin/schemathesis'), [
      '--config-file', join(ROOT, 'test/schemathesis/schemathesis.toml'), 'run', `${serve.url}/openapi.json`, '--checks', 'all', '--phases', 'examples,coverage,fuzzing',
      '--max-examples', process.env.RPS_SCHEMATHESIS_EXAMPLES ?? '25', '--workers', '1', '--seed', '12',
      '--header', `Authorization: Bearer ${token}`, '--suppress-health-check', 'all', '--no-color',
    ], {SCHEMATHESIS_HOOKS: 'rps_hooks', PYTHONPATH: join(ROOT, 'test/schemathesis')})
    assert.equal(result.code, 0, result.output.slice(-6000))
    assert.match(result.output, /Tested: 6\b/)
    assert.match(result.output, /No issues found/)
  })
})
