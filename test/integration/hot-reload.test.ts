import {strict as assert} from 'node:assert'

import {MlflowClient} from '../../src/lib/mlflow/client.js'
import {replayModel, writeTestModel} from '../support/model.js'
import {trackingStack} from '../support/mlflow.js'
import {getJson, postJson, startServe} from '../support/serve.js'

/** Registers a local model directory as a new version of `name` (a run with the directory as its model artifact). */
async function register(client: MlflowClient, name: string, modelDir: string): Promise<string> {
  const exp = await client.getOrCreateExperiment(name)
  const run = await client.createRun(exp.experiment_id, 'hot-reload')
  await client.uploadDirectory(run.artifact_uri, modelDir, 'model')
  await client.ensureRegisteredModel(name)
  const version = await client.createModelVersion(name, `${run.artifact_uri}/model`, run.run_id)
  await client.terminateRun(run.run_id, 'FINISHED')
  return version.version
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
    const {readFile, writeFile} = await import('node:fs/promises')
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
})
