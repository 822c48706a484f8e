import {strict as assert} from 'node:assert'
import {mkdtemp, readdir, readFile, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {MlflowClient} from '../../src/lib/mlflow/client.js'
import {DIGESTS_TAG, computeDigests} from '../../src/lib/model/digests.js'
import {replayModel, writeTestModel} from '../support/model.js'
import {trackingStack} from '../support/mlflow.js'
import {rps} from '../support/rps.js'
import {getJson, postJson, startServe} from '../support/serve.js'

/**
 * Registers a local model directory as a new version of `name` (a run with the directory as its model
 * artifact); with `digests`, tagged with their sha256 as rps train does.
 */
async function register(client: MlflowClient, name: string, modelDir: string, digests = false): Promise<string> {
  return (await registerAt(client, name, modelDir, digests)).version
}

async function registerAt(client: MlflowClient, name: string, modelDir: string, digests: boolean): Promise<{version: string; source: string}> {
  const exp = await client.getOrCreateExperiment(name)
  const run = await client.createRun(exp.experiment_id, 'hot-reload')
  await client.uploadDirectory(run.artifact_uri, modelDir, 'model')
  await client.ensureRegisteredModel(name)
  const tags: Record<string, string> = digests ? {[DIGESTS_TAG]: JSON.stringify(await computeDigests(modelDir))} : {}
  const version = await client.createModelVersion(name, `${run.artifact_uri}/model`, run.run_id, tags)
  await client.terminateRun(run.run_id, 'FINISHED')
  return {version: version.version, source: version.source}
}

describe('hot reload under load (real MLflow registry)', function () {
  this.timeout(240_000)

  it('when @champion moves while requests keep coming, then no request fails and the new version is served and reported', async () => {
    const stack = await trackingStack()
    const client = new MlflowClient({trackingUri: stack.trackingUri})
    const fixture = await replayModel()
    const name = `hot-reload-${Date.now()}`
    const {params} = fixture
    await writeTestModel(fixture.modelDir, fixture.rows, fixture.summary, params, 4, 1, name)
    const v1 = await register(client, name, fixture.modelDir)
    await client.setAlias(name, 'champion', v1)
    const paramsWithName = `${fixture.dir}/params-hot.yaml`
    await writeFile(paramsWithName, (await readFile(params, 'utf8')).replace(/registered_name: .*/, `registered_name: ${name}`))
    const serve = await startServe(['--params', paramsWithName, '--poll-seconds', '1'], {MLFLOW_TRACKING_URI: stack.trackingUri})
    try {
      const example = (await getJson(`${serve.url}/model`)).example
      let stop = false
      const statuses: number[] = []
      const versions = new Set<string>()
      const load = Promise.all(Array.from({length: 4}, async () => {
        while (!stop) {
          const res = await postJson(`${serve.url}/predict`, {instances: [example]}).catch(() => ({status: -1, json: null}))
          statuses.push(res.status)
          if (res.status === 200) versions.add(res.json.predictions[0].model.version)
        }
      }))
      await new Promise((r) => setTimeout(r, 1000))
      await writeTestModel(fixture.modelDir, fixture.rows, fixture.summary, params, 6, 2, name)
      const v2 = await register(client, name, fixture.modelDir)
      await client.setModelVersionTag(name, v2, 'rps.promotion_trigger', 'concept_drift')
      await client.setAlias(name, 'champion', v2)
      const deadline = Date.now() + 60_000
      while (Date.now() < deadline && (await getJson(`${serve.url}/model`)).version !== v2) await new Promise((r) => setTimeout(r, 250))
      await new Promise((r) => setTimeout(r, 1000))
      stop = true
      await load
      assert.equal((await getJson(`${serve.url}/model`)).version, v2)
      assert.ok(statuses.length > 50, `load generator sent ${statuses.length} requests`)
      assert.deepEqual(statuses.filter((s) => s !== 200), [], 'zero failed requests')
      assert.deepEqual([...versions].sort(), [v1, v2].sort(), 'answers came from both versions')
      const metrics = await (await fetch(`${serve.url}/metrics`)).text()
      assert.match(metrics, new RegExp(`rps_model_info\\{name="${name}",version="${v2}",alias="champion",trigger="concept_drift"\\} 1`))
      assert.doesNotMatch(metrics, new RegExp(`version="${v1}"`))
    } finally {
      await serve.stop()
    }
  })

  it('when @champion moves to a version whose artifact was overwritten in the store, then it is refused, counted, the old version keeps serving, and no download folder is left', async () => {
    const stack = await trackingStack()
    const client = new MlflowClient({trackingUri: stack.trackingUri})
    const fixture = await replayModel()
    const name = `tampered-${Date.now()}`
    await writeTestModel(fixture.modelDir, fixture.rows, fixture.summary, fixture.params, 4, 1, name)
    const v1 = await register(client, name, fixture.modelDir, true)
    await client.setAlias(name, 'champion', v1)
    await writeTestModel(fixture.modelDir, fixture.rows, fixture.summary, fixture.params, 6, 2, name)
    const v2 = await registerAt(client, name, fixture.modelDir, true)
    // Someone with the artifact store's keys swaps v2's forest for another valid one, then moves the alias.
    await writeTestModel(fixture.modelDir, fixture.rows, fixture.summary, fixture.params, 6, 3, name)
    await client.uploadArtifact(v2.source, join(fixture.modelDir, 'forest.json'), 'forest.json')
    const paramsWithName = `${fixture.dir}/params-tampered.yaml`
    await writeFile(paramsWithName, (await readFile(fixture.params, 'utf8')).replace(/registered_name: .*/, `registered_name: ${name}`))
    const temp = await mkdtemp(join(tmpdir(), 'rps-serve-tmp-'))
    const serve = await startServe(['--params', paramsWithName, '--poll-seconds', '1'], {MLFLOW_TRACKING_URI: stack.trackingUri, TMPDIR: temp})
    try {
      const ready = await getJson(`${serve.url}/ready`)
      assert.deepEqual(ready, {ready: true, model: {name, version: v1, alias: 'champion', verified: true}})
      const before = await getJson(`${serve.url}/model`)
      assert.equal(before.source, undefined, '/model shows no internal artifact URI')
      assert.doesNotMatch(JSON.stringify(before), /mlflow-artifacts:|s3:\/\//)
      await client.setAlias(name, 'champion', v2.version)
      const mismatches = async () => Number(/^rps_model_digest_mismatch_total (\d+)/m.exec(await (await fetch(`${serve.url}/metrics`)).text())?.[1])
      const deadline = Date.now() + 60_000
      while (Date.now() < deadline && (await mismatches()) < 1) await new Promise((r) => setTimeout(r, 250))
      assert.ok((await mismatches()) >= 1, serve.stderr())
      assert.match(serve.stderr(), new RegExp(`reload rejected: .*does not match its recorded digests: forest\\.json has sha256 .*; still serving v${v1}`))
      assert.equal((await getJson(`${serve.url}/model`)).version, v1)
      const example = before.example
      assert.equal((await postJson(`${serve.url}/predict`, {instances: [example]})).json.predictions[0].model.version, v1)
      // Each poll downloads and refuses v2 again; with the alias back on the served v1 nothing is downloaded.
      await client.setAlias(name, 'champion', v1)
      await new Promise((r) => setTimeout(r, 3000))
      assert.deepEqual(await readdir(temp), [], 'every download folder was removed, the refused ones too')
    } finally {
      await serve.stop()
    }
  })

  it('when a promotion key is set and @champion is moved by hand, then the server refuses the version until rps promote --force --reason seals it', async () => {
    const stack = await trackingStack()
    const client = new MlflowClient({trackingUri: stack.trackingUri})
    const fixture = await replayModel()
    const name = `sealed-${Date.now()}`
    await writeTestModel(fixture.modelDir, fixture.rows, fixture.summary, fixture.params, 4, 1, name)
    const v1 = await register(client, name, fixture.modelDir, true)
    const paramsWithName = `${fixture.dir}/params-sealed.yaml`
    await writeFile(paramsWithName, (await readFile(fixture.params, 'utf8')).replace(/registered_name: .*/, `registered_name: ${name}`))
    const env = {MLFLOW_TRACKING_URI: stack.trackingUri, RPS_PROMOTION_KEY: 'test-promotion-key'}
    const first = await rps(['promote', '--version', v1, '--force', '--reason', 'test: the first champion', '--params', paramsWithName, '--json'], env)
    assert.equal(first.exitCode, 0, first.stderr)
    await writeTestModel(fixture.modelDir, fixture.rows, fixture.summary, fixture.params, 6, 2, name)
    const v2 = await register(client, name, fixture.modelDir, true)
    const serve = await startServe(['--params', paramsWithName, '--poll-seconds', '1'], env)
    try {
      assert.equal((await getJson(`${serve.url}/model`)).version, v1)
      await client.setAlias(name, 'champion', v2) // by hand, past the gate
      const refusals = async () => Number(/^rps_model_unsealed_refusals_total (\d+)/m.exec(await (await fetch(`${serve.url}/metrics`)).text())?.[1])
      let deadline = Date.now() + 60_000
      while (Date.now() < deadline && (await refusals()) < 1) await new Promise((r) => setTimeout(r, 250))
      assert.ok((await refusals()) >= 1, serve.stderr())
      assert.match(serve.stderr(), new RegExp(`reload rejected: ${name} v${v2} carries no promotion seal.*; still serving v${v1}`))
      assert.equal((await getJson(`${serve.url}/model`)).version, v1)
      await client.setAlias(name, 'champion', v1)
      const forced = await rps(['promote', '--version', v2, '--force', '--reason', 'test: forced past the gate', '--params', paramsWithName, '--json'], env)
      assert.equal(forced.exitCode, 0, forced.stderr)
      deadline = Date.now() + 60_000
      while (Date.now() < deadline && (await getJson(`${serve.url}/model`)).version !== v2) await new Promise((r) => setTimeout(r, 250))
      assert.equal((await getJson(`${serve.url}/model`)).version, v2)
    } finally {
      await serve.stop()
    }
  })
})
