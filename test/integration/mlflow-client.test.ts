import {strict as assert} from 'node:assert'
import {mkdtemp, mkdir, readFile, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {MlflowClient, MlflowError} from '../../src/lib/mlflow/client.js'
import {trackingStack} from '../support/mlflow.js'

describe('MLflow REST client (real server)', function () {
  this.timeout(180_000)
  let client: MlflowClient

  before(async () => {
    client = new MlflowClient({trackingUri: (await trackingStack()).trackingUri})
  })

  it('when an experiment is asked for twice, then it is created once', async () => {
    assert.equal(await client.getExperimentByName('client-test-absent'), undefined)
    const a = await client.getOrCreateExperiment('client-test')
    const b = await client.getOrCreateExperiment('client-test')
    assert.equal(a.experiment_id, b.experiment_id)
  })

  it('when logging more than the batch limits, then everything lands in several requests', async () => {
    const exp = await client.getOrCreateExperiment('client-test')
    const run = await client.createRun(exp.experiment_id, 'batch', {purpose: 'test'})
    const params = Object.fromEntries(Array.from({length: 230}, (_, i) => [`p${i}`, String(i)]))
    const metrics = Array.from({length: 1500}, (_, i) => ({key: `m${i % 3}`, value: i, timestamp: Date.now(), step: i}))
    const requests = await client.logBatch(run.run_id, {params, metrics, tags: {a: '1'}})
    assert.equal(requests, 3)
    const got = await client.getRun(run.run_id)
    assert.equal(got.data.params?.length, 230)
    assert.deepEqual(got.data.metrics?.find((m) => m.key === 'm2')?.value, 1499)
    await client.terminateRun(run.run_id, 'FINISHED')
    assert.equal((await client.getRun(run.run_id)).info.status, 'FINISHED')
  })

  it('when a directory is uploaded as artifacts, then it downloads back identical', async () => {
    const exp = await client.getOrCreateExperiment('client-test')
    const run = await client.createRun(exp.experiment_id, 'artifacts')
    const src = await mkdtemp(join(tmpdir(), 'rps-art-'))
    await mkdir(join(src, 'sub'))
    await writeFile(join(src, 'a.json'), '{"a":1}')
    await writeFile(join(src, 'sub', 'b.bin'), Buffer.from([0, 1, 2, 255]))
    const uploaded = await client.uploadDirectory(run.artifact_uri, src, 'model')
    assert.deepEqual(uploaded.sort(), ['model/a.json', 'model/sub/b.bin'])
    const dest = await mkdtemp(join(tmpdir(), 'rps-art-dl-'))
    await client.downloadDirectory(run.artifact_uri, 'model', dest)
    assert.equal(await readFile(join(dest, 'a.json'), 'utf8'), '{"a":1}')
    assert.deepEqual(await readFile(join(dest, 'sub', 'b.bin')), Buffer.from([0, 1, 2, 255]))
  })

  it('when versions are registered, then aliases can be set, read, moved and deleted', async () => {
    const exp = await client.getOrCreateExperiment('client-test')
    const run = await client.createRun(exp.experiment_id, 'registry')
    await client.ensureRegisteredModel('client-model')
    await client.ensureRegisteredModel('client-model')
    const v1 = await client.createModelVersion('client-model', `${run.artifact_uri}/model`, run.run_id)
    const v2 = await client.createModelVersion('client-model', `${run.artifact_uri}/model`, run.run_id)
    assert.equal(Number(v2.version), Number(v1.version) + 1)
    assert.equal(await client.getVersionByAlias('client-model', 'champion'), undefined)
    await client.setAlias('client-model', 'champion', v1.version)
    assert.equal((await client.getVersionByAlias('client-model', 'champion'))?.version, v1.version)
    await client.setAlias('client-model', 'champion', v2.version)
    assert.equal((await client.getVersionByAlias('client-model', 'champion'))?.version, v2.version)
    await client.deleteAlias('client-model', 'champion')
    assert.equal(await client.getVersionByAlias('client-model', 'champion'), undefined)
  })

  it('when the server rejects a request, then its error_code and message surface', async () => {
    await client.ensureRegisteredModel('client-model')
    await assert.rejects(client.setAlias('client-model', 'bad alias!', '1'), (error: unknown) => {
      assert.ok(error instanceof MlflowError)
      assert.equal(error.errorCode, 'INVALID_PARAMETER_VALUE')
      assert.match(error.message, /alias/i)
      return true
    })
    await assert.rejects(client.getRun('0123456789abcdef0123456789abcdef'), (error: unknown) => error instanceof MlflowError && error.errorCode === 'RESOURCE_DOES_NOT_EXIST')
  })

  it('when the server is unreachable, then the failure says so after retries', async () => {
    const dead = new MlflowClient({trackingUri: 'http://127.0.0.1:9', attempts: 2})
    await assert.rejects(dead.getExperimentByName('x'), /MLflow experiment 'x' at http:\/\/127\.0\.0\.1:9 failed after 2 attempt\(s\)/)
  })
})
