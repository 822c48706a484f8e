import {strict as assert} from 'node:assert'
import {type ResultPromise, execa} from 'execa'
import {mkdir, readdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {MlflowClient} from '../../src/lib/mlflow/client.js'
import {type MinioInstance, startMinio} from '../support/minio.js'
import {type MlflowServer, startMlflowServer} from '../support/mlflow.js'
import {ROOT, rps, scratch} from '../support/rps.js'

/** `rps train` as a subprocess whose stderr progress lines the test can wait for. */
function startTrain(args: string[], env: Record<string, string>) {
  const child = execa(process.execPath, [join(ROOT, 'bin/run.js'), 'train', ...args], {env: {...env, CI: 'true', NO_COLOR: '1'}, reject: false, timeout: 300_000})
  let stderr = ''
  const waiters: {re: RegExp; resolve: (m: RegExpMatchArray) => void}[] = []
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
    for (const w of [...waiters]) {
      const m = w.re.exec(stderr)
      if (m) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(m)
      }
    }
  })
  const waitFor = (re: RegExp) => new Promise<RegExpMatchArray>((resolve, reject) => {
    const m = re.exec(stderr)
    if (m) return resolve(m)
    waiters.push({re, resolve})
    void child.then(() => reject(new Error(`rps train ended before printing ${re}: ${stderr}`)))
  })
  return {child: child as ResultPromise, waitFor, stderr: () => stderr}
}

describe('MLflow run states when the tracking server goes away (real MLflow killed and restarted)', function () {
  this.timeout(600_000)
  let minio: MinioInstance
  let server: MlflowServer
  let client: MlflowClient
  let params: string
  let dir: string
  let env: Record<string, string>
  const model = `runstate-${Date.now()}`

  const restart = async () => {
    server = await startMlflowServer(minio, {dir: server.dir, port: server.port})
  }

  before(async () => {
    minio = await startMinio('rps-mlflow')
    server = await startMlflowServer(minio)
    client = new MlflowClient({trackingUri: server.trackingUri})
    ;({dir, params} = await scratch((p) => {
      p.model = {...p.model, registered_name: model, experiment: model, holdout_days: 3, validation_days: 0, n_estimators: 8, max_samples: 300, max_depth: 8, workers: 1}
    }))
    env = {...minio.env, MLFLOW_TRACKING_URI: server.trackingUri, RPS_DATA_DIR: join(dir, 'data'), RPS_WORKDIR: dir, RPS_MLFLOW_PATIENCE_S: '180'}
    for (const args of [['fetch', '--source', 'replay', '--at', '2026-05-20T00:00:00Z', '--past-hours', '600'], ['check', '--source', 'replay'], ['featurize', '--source', 'replay']]) {
      const run = await rps([...args, '--params', params], env)
      assert.equal(run.exitCode, 0, `${args[0]}: ${run.stderr}`)
    }
  })

  after(async () => {
    await server?.kill()
    await minio?.stop()
  })

  it('when MLflow is killed during training and answers again, then the run is marked FAILED, no version exists and build/model is untouched', async () => {
    const out = join(dir, 'build/model')
    await mkdir(out, {recursive: true})
    await writeFile(join(out, 'model.json'), '{"the": "good model"}\n')
    const train = startTrain(['--params', params, '--out', out], env)
    const [, runId] = await train.waitFor(/MLflow run ([0-9a-f]{32})/)
    await server.kill()
    // rps train has used up its request retries and now waits for the server to close the run
    await train.waitFor(/MLflow unreachable .*to close run/)
    await restart()
    const result = await train.child
    assert.equal(result.exitCode, 4, train.stderr())
    assert.equal((await client.getRun(runId!)).info.status, 'FAILED')
    assert.equal(await client.getVersionByAlias(model, 'challenger'), undefined, 'nothing registered')
    assert.deepEqual(await readdir(out), ['model.json'], 'the local model is the old one')
    assert.deepEqual((await readdir(join(dir, 'build'))).sort(), ['model'], 'no pending copy left beside it')
  })

  it('when rps train died while MLflow was away, then its RUNNING run is closed FAILED at the start of the next train', async () => {
    const train = startTrain(['--params', params], env)
    const [, runId] = await train.waitFor(/MLflow run ([0-9a-f]{32})/)
    await server.kill()
    await train.waitFor(/MLflow unreachable .*to close run/)
    train.child.kill('SIGKILL')
    await train.child
    await restart()
    assert.equal((await client.getRun(runId!)).info.status, 'RUNNING', 'nobody could close it')
    const next = await rps(['train', '--params', params, '--json'], env)
    assert.equal(next.exitCode, 0, next.stderr)
    assert.deepEqual(next.json.closedStaleRuns, [runId])
    const stale = await client.getRun(runId!)
    assert.equal(stale.info.status, 'FAILED')
    assert.match(stale.data.tags!.find((t) => t.key === 'rps.closed_reason')!.value, /its process \(pid \d+ on .+\) is gone/)
    assert.equal((await client.getRun(next.json.runId)).info.status, 'FINISHED')
    const experiment = await client.getExperimentByName(model)
    assert.deepEqual(await client.searchRuns([experiment!.experiment_id], 'RUNNING'), [], 'no RUNNING run is left')
  })
})
