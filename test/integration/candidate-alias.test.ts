import {strict as assert} from 'node:assert'
import {join} from 'node:path'

import {MlflowClient} from '../../src/lib/mlflow/client.js'
import {trackingStack} from '../support/mlflow.js'
import {rps, scratch} from '../support/rps.js'

// A pull request's model (docs/cicd-workflows.md): trained under its own alias pr-<n>, compared against
// production's @champion, promoted only when merged, through the same gate.
describe('pull request candidates: train --alias, compare --challenger, promote --from-alias (real MLflow + MinIO)', function () {
  this.timeout(300_000)
  let env: Record<string, string>
  let params: string
  let dir: string
  let client: MlflowClient
  const model = `candidate-${Date.now()}`
  const aliases = async () => Object.fromEntries(((await client.getRegisteredModel(model))?.aliases ?? []).map((a) => [a.alias, a.version]))
  const recorded = async (version: string) => (await client.getModelVersion(model, version)).tags?.find((t) => t.key === 'rps.compare_report')?.value

  before(async () => {
    const stack = await trackingStack()
    ;({dir, params} = await scratch((p) => {
      p.model = {...p.model, registered_name: model, experiment: model, holdout_days: 3, validation_days: 3, n_estimators: 8, max_samples: 300, max_depth: 6}
    }))
    env = {...stack.env, RPS_DATA_DIR: join(dir, 'data'), RPS_WORKDIR: dir}
    client = new MlflowClient({trackingUri: stack.trackingUri})
    for (const args of [['fetch', '--source', 'replay', '--at', '2026-05-20T00:00:00Z', '--past-hours', '720'], ['check', '--source', 'replay'], ['featurize', '--source', 'replay']]) {
      const run = await rps([...args, '--params', params], env)
      assert.equal(run.exitCode, 0, `${args[0]}: ${run.stderr}`)
    }
    const first = await rps(['train', '--params', params], env)
    assert.equal(first.exitCode, 0, first.stderr)
    const promoted = await rps(['promote', '--params', params], env)
    assert.equal(promoted.exitCode, 0, promoted.stderr)
  })

  it('when train gets --alias champion or a malformed alias, then it refuses with exit 2 before training', async () => {
    // The full rule is a unit spec (test/lib/model/candidate-alias.test.ts); here the command's exit code.
    for (const [alias, message] of [['champion', /@champion is production's: only rps promote moves it/], ['pr 7', /invalid alias 'pr 7'/]] as const) {
      const run = await rps(['train', '--params', params, '--alias', alias], env)
      assert.equal(run.exitCode, 2, `${alias}: ${run.stderr}`)
      assert.match(run.stderr, message)
    }
    assert.deepEqual(await aliases(), {champion: '1', challenger: '1'})
  })

  it('when a candidate is trained under pr-7 and compared, then only pr-7 and its own version tag are written; @challenger and @champion stay', async () => {
    const train = await rps(['train', '--params', params, '--alias', 'pr-7', '--n-estimators', '16', '--json'], env)
    assert.equal(train.exitCode, 0, train.stderr)
    assert.equal(train.json.alias, 'pr-7')
    assert.equal(train.json.version, '2')
    assert.deepEqual(await aliases(), {champion: '1', challenger: '1', 'pr-7': '2'})
    const compare = await rps(['compare', '--params', params, '--challenger', 'pr-7', '--tolerance', '100', '--out-dir', join(dir, 'cmp7'), '--json'], env)
    assert.equal(compare.exitCode, 0, compare.stderr)
    assert.equal(compare.json.decision, 'challenger_wins')
    assert.deepEqual([compare.json.challenger.version, compare.json.challenger.alias, compare.json.champion.version], ['2', 'pr-7', '1'])
    assert.deepEqual(await aliases(), {champion: '1', challenger: '1', 'pr-7': '2'})
    const tag = JSON.parse((await recorded('2'))!)
    assert.deepEqual([tag.challenger.version, tag.champion.version, tag.passed], ['2', '1', true])
    assert.equal(await recorded('1'), undefined, 'nothing is written on the champion')
  })

  it('when compare is asked for an alias nobody trained, then it fails with the train command to run', async () => {
    const run = await rps(['compare', '--params', params, '--challenger', 'pr-404', '--out-dir', join(dir, 'cmp404')], env)
    assert.equal(run.exitCode, 1)
    assert.match(run.stderr, /no @pr-404 version of/)
    assert.match(run.stderr, /rps train --alias pr-404/)
  })

  it('when the champion is given as an exported directory, then compare scores against it exactly as against @champion', async () => {
    // CI's gate: production's champion exported with a read-only user, the candidate in another registry.
    const exported = await rps(['export-model', '--params', params, '--alias', 'champion', '--out', join(dir, 'champion-dir')], env)
    assert.equal(exported.exitCode, 0, exported.stderr)
    const byRegistry = await rps(['compare', '--params', params, '--challenger', 'pr-7', '--tolerance', '100', '--out-dir', join(dir, 'cmp-reg'), '--json'], env)
    const byDir = await rps(['compare', '--params', params, '--challenger', 'pr-7', '--tolerance', '100', '--out-dir', join(dir, 'cmp-dir'), '--champion-dir', join(dir, 'champion-dir'), '--json'], env)
    assert.equal(byDir.exitCode, 0, byDir.stderr)
    assert.deepEqual([byDir.json.decision, byDir.json.champion.version, byDir.json.champion.runId], [byRegistry.json.decision, '1', undefined])
    assert.deepEqual(byDir.json.champion.scores, byRegistry.json.champion.scores)
    assert.deepEqual(byDir.json.challenger.scores, byRegistry.json.challenger.scores)
    // The same version number in the directory is another registry's model: never "already the champion".
    const same = await rps(['export-model', '--params', params, '--version', '2', '--out', join(dir, 'v2-dir')], env)
    assert.equal(same.exitCode, 0, same.stderr)
    const twin = await rps(['compare', '--params', params, '--challenger', 'pr-7', '--out-dir', join(dir, 'cmp-twin'), '--champion-dir', join(dir, 'v2-dir'), '--json'], env)
    assert.equal(twin.exitCode, 0, twin.stderr)
    assert.deepEqual([twin.json.decision, twin.json.champion.version, twin.json.deltaRmse], ['challenger_wins', '2', 0])
    // Neither verdict is recorded: promote --from-alias still finds the comparison against @champion v1.
    assert.equal(JSON.parse((await recorded('2'))!).champion.version, '1')
    assert.deepEqual(await aliases(), {champion: '1', challenger: '1', 'pr-7': '2'})
  })

  it('when two PRs passed against champion v1 and one is merged first, then promote --from-alias takes it and refuses the other as stale', async () => {
    const train = await rps(['train', '--params', params, '--alias', 'pr-9', '--json'], env)
    assert.equal(train.exitCode, 0, train.stderr)
    assert.equal(train.json.version, '3')
    const compare = await rps(['compare', '--params', params, '--challenger', 'pr-9', '--tolerance', '100', '--out-dir', join(dir, 'cmp9')], env)
    assert.equal(compare.exitCode, 0, compare.stderr)
    const merged = await rps(['promote', '--params', params, '--from-alias', 'pr-7', '--reason', 'pull request #7 merged into test', '--json'], env)
    assert.equal(merged.exitCode, 0, merged.stderr)
    assert.deepEqual([merged.json.action, merged.json.champion, merged.json.previousChampion, merged.json.trigger], ['promoted', '2', '1', 'manual'])
    assert.match(merged.json.reason, /^pull request #7 merged into test; challenger v2 holdout RMSE \d+\.\d{3} vs champion v1 \d+\.\d{3} on \d+ rows$/)
    assert.deepEqual(await aliases(), {champion: '2', 'previous-champion': '1', challenger: '2', 'pr-7': '2', 'pr-9': '3'})
    const again = await rps(['promote', '--params', params, '--from-alias', 'pr-7', '--json'], env)
    assert.equal(again.exitCode, 0, again.stderr)
    assert.equal(again.json.action, 'unchanged', 'a re-run of the merge job changes nothing')
    const stale = await rps(['promote', '--params', params, '--from-alias', 'pr-9', '--json'], env)
    assert.equal(stale.exitCode, 10, stale.stdout + stale.stderr)
    assert.match(stale.json.error.message, /refusing to promote '.+' v3: the comparison recorded on v3 \(tag rps\.compare_report\) is not a comparison of challenger v3 vs champion v2 \(its champion was v1, the current one is v2/)
    assert.equal((await aliases()).champion, '2')
  })

  it('when a candidate lost its comparison, then promote --from-alias refuses it with exit 10 and nothing moves', async () => {
    const train = await rps(['train', '--params', params, '--alias', 'pr-8', '--n-estimators', '1', '--max-depth', '1', '--json'], env)
    assert.equal(train.exitCode, 0, train.stderr)
    const compare = await rps(['compare', '--params', params, '--challenger', 'pr-8', '--out-dir', join(dir, 'cmp8'), '--json'], env)
    assert.equal(compare.exitCode, 10, compare.stderr)
    const before = await aliases()
    const refused = await rps(['promote', '--params', params, '--from-alias', 'pr-8', '--json'], env)
    assert.equal(refused.exitCode, 10, refused.stdout + refused.stderr)
    assert.match(refused.json.error.message, /refusing to promote '.+' v4: rps compare decided challenger_loses/)
    assert.deepEqual(await aliases(), before)
    const both = await rps(['promote', '--params', params, '--from-alias', 'pr-8', '--version', '4'], env)
    assert.equal(both.exitCode, 2, both.stderr)
  })
})
