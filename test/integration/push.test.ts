import {strict as assert} from 'node:assert'
import {createHash} from 'node:crypto'
import {execa} from 'execa'
import {copyFile, mkdtemp, readFile, rm, symlink} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {type MinioInstance, startMinio} from '../support/minio.js'
import {ROOT, rps} from '../support/rps.js'

const DVC = join(ROOT, '.rps/venv/bin/dvc')
const md5 = async (path: string) => createHash('md5').update(await readFile(path)).digest('hex')

/** A scratch project: git repo + DVC with an S3 remote on the test MinIO, sharing the real bin/ and src/. */
async function scratchProject(minio: MinioInstance): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rps-project-'))
  for (const f of ['params.yaml', 'dvc.yaml']) await copyFile(join(ROOT, f), join(dir, f))
  await symlink(join(ROOT, 'bin'), join(dir, 'bin'))
  await symlink(join(ROOT, 'src'), join(dir, 'src'))
  const git = (...args: string[]) => execa('git', args, {cwd: dir})
  await git('init', '-q')
  await execa(DVC, ['init', '-q'], {cwd: dir})
  await execa(DVC, ['remote', 'add', '-d', 'storage', 's3://rps-data/dvc'], {cwd: dir})
  await execa(DVC, ['remote', 'modify', '--local', 'storage', 'endpointurl', minio.endpoint], {cwd: dir})
  await git('add', '.')
  await git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'init')
  return dir
}

describe('rps push (MinIO + DVC)', function () {
  this.timeout(240_000)
  let minio: MinioInstance
  let dir: string
  let env: Record<string, string>

  const pipeline = async (at: string) => {
    for (const args of [['fetch', '--source', 'replay', '--at', at, '--past-hours', '200'], ['check', '--source', 'replay'], ['featurize', '--source', 'replay']]) {
      const run = await rps(args, env, {cwd: dir})
      assert.equal(run.exitCode, 0, `${args[0]}: ${run.stderr}`)
    }
  }

  before(async () => {
    minio = await startMinio()
    dir = await scratchProject(minio)
    env = {...minio.env, RPS_DVC: DVC, HOME: process.env.HOME ?? '/root', PATH: process.env.PATH ?? ''}
  })
  after(async () => {
    await minio.stop()
  })

  it('when pushed twice, then objects verify, each run is a DVC version committed to git, and both can be restored', async () => {
    await pipeline('2026-04-10T00:00:00Z')
    const first = await rps(['push', '--json'], env, {cwd: dir})
    assert.equal(first.exitCode, 0, first.stderr + first.stdout)
    const dataset = join(dir, 'data/processed/dataset.parquet')
    const firstMd5 = await md5(dataset)
    assert.equal(first.json.dataVersion, firstMd5, 'the data version is the dataset md5 recorded by DVC')
    assert.equal(first.json.raw.uploaded, 3, 'body, meta and quality report')
    assert.ok(first.json.processed.some((k: string) => k.endsWith('/dataset.parquet')))
    assert.match(first.json.gitCommit, /^[0-9a-f]{40}$/)
    const log = await execa('git', ['log', '--format=%s', '-1'], {cwd: dir})
    assert.equal(String(log.stdout), `data: dataset ${firstMd5} (rps push)`)

    // the stored object is byte-identical to the local dataset
    const aws = {...process.env, ...minio.env}
    const key = first.json.processed.find((k: string) => k.endsWith('/dataset.parquet'))
    const {S3Client, GetObjectCommand} = await import('@aws-sdk/client-s3')
    const client = new S3Client({endpoint: minio.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: {accessKeyId: aws.AWS_ACCESS_KEY_ID!, secretAccessKey: aws.AWS_SECRET_ACCESS_KEY!}})
    const object = await client.send(new GetObjectCommand({Bucket: 'rps-data', Key: key}))
    const bytes = await object.Body!.transformToByteArray()
    assert.equal(createHash('md5').update(bytes).digest('hex'), firstMd5)
    assert.equal(key, `processed/${createHash('sha256').update(bytes).digest('hex')}/dataset.parquet`, 'stored under its own content hash')
    assert.ok(first.json.processed.includes(key.replace(/dataset\.parquet$/, 'manifest.json')), 'the version manifest travels with it')
    client.destroy()

    // DVC round trip: lose the file and the cache, pull it back byte for byte
    await rm(dataset)
    await rm(join(dir, '.dvc/cache'), {recursive: true, force: true})
    await execa(DVC, ['pull', 'featurize'], {cwd: dir, env: aws})
    assert.equal(await md5(dataset), firstMd5)

    // a second run is a second version; the first can be checked out again
    await pipeline('2026-04-20T00:00:00Z')
    const second = await rps(['push', '--json'], env, {cwd: dir})
    assert.equal(second.exitCode, 0, second.stderr)
    assert.notEqual(second.json.dataVersion, firstMd5)
    assert.equal(second.json.raw.alreadyStored, 3)
    await execa('git', ['checkout', first.json.gitCommit, '--', 'dvc.lock'], {cwd: dir})
    await execa(DVC, ['checkout', '--force', 'featurize'], {cwd: dir, env: aws})
    assert.equal(await md5(dataset), firstMd5)
    await execa('git', ['checkout', 'HEAD', '--', 'dvc.lock'], {cwd: dir})
    await execa(DVC, ['checkout', '--force', 'featurize'], {cwd: dir, env: aws})
    assert.equal(await md5(dataset), second.json.dataVersion)
  })

  it('when MinIO is down, then push fails clearly and the recorded version and dataset stay intact', async () => {
    const lockBefore = await readFile(join(dir, 'dvc.lock'), 'utf8')
    const datasetBefore = await md5(join(dir, 'data/processed/dataset.parquet'))
    await pipeline('2026-04-25T00:00:00Z')
    const datasetNew = await md5(join(dir, 'data/processed/dataset.parquet'))
    const dead = await startMinio()
    await dead.stop()
    const run = await rps(['push'], {...env, ...dead.env}, {cwd: dir})
    assert.equal(run.exitCode, 4, run.stderr)
    assert.match(run.stderr, /S3 endpoint http:\/\/127\.0\.0\.1:\d+ unreachable/)
    assert.equal(await readFile(join(dir, 'dvc.lock'), 'utf8'), lockBefore)
    assert.notEqual(datasetNew, datasetBefore)
    assert.equal(await md5(join(dir, 'data/processed/dataset.parquet')), datasetNew, 'the local dataset is untouched')
  })

  it('when the MinIO behind the DVC remote is killed after the S3 uploads, then push exits 4 (transport) and dvc.lock stays as it was', async () => {
    await pipeline('2026-04-28T00:00:00Z')
    const lockBefore = await readFile(join(dir, 'dvc.lock'), 'utf8')
    const remote = await startMinio()
    await execa(DVC, ['remote', 'modify', '--local', 'storage', 'endpointurl', remote.endpoint], {cwd: dir})
    await remote.stop()
    try {
      const run = await rps(['push', '--json'], env, {cwd: dir})
      assert.equal(run.exitCode, 4, run.stderr + run.stdout)
      assert.equal(run.json.error.code, 'DVC_PUSH_FAILED')
      assert.match(run.json.error.message, /^dvc push featurize failed/)
      assert.equal(await readFile(join(dir, 'dvc.lock'), 'utf8'), lockBefore)
    } finally {
      await execa(DVC, ['remote', 'modify', '--local', 'storage', 'endpointurl', minio.endpoint], {cwd: dir})
    }
  })
})
