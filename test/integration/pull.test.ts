import {strict as assert} from 'node:assert'
import {createHash} from 'node:crypto'
import {execa} from 'execa'
import {copyFile, mkdir, mkdtemp, readFile, symlink, writeFile} from 'node:fs/promises'
import {existsSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {type MinioInstance, startMinio} from '../support/minio.js'
import {ROOT, rps} from '../support/rps.js'

const DVC = join(ROOT, '.rps/venv/bin/dvc')
const hash = async (algo: string, path: string) => createHash(algo).update(await readFile(path)).digest('hex')

/** An empty checkout: git + DVC with its remote on the test MinIO, nothing under data/ or reports/. */
async function checkout(minio: MinioInstance): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rps-worker-'))
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

// The DAG's hand-overs, each task in a fresh checkout ("worker"), sharing only MinIO.
describe('rps pull / push: task state by version in object storage', function () {
  this.timeout(300_000)
  let minio: MinioInstance
  let env: Record<string, string>
  let sha256 = ''
  const ok = async (args: string[], cwd: string) => {
    const run = await rps(args, env, {cwd})
    assert.equal(run.exitCode, 0, `rps ${args.join(" ")}: ${run.stderr}${run.stdout.slice(0, 2000)}`)
    return run
  }

  before(async () => {
    minio = await startMinio()
    env = {...minio.env, RPS_DVC: DVC, RPS_SOURCE: 'replay', HOME: process.env.HOME ?? '/root', PATH: process.env.PATH ?? ''}
  })
  after(async () => {
    await minio.stop()
  })

  it('when fetch, check, featurize and push each run in an empty checkout, then each gets what the one before stored', async () => {
    const fetcher = await checkout(minio)
    await ok(['fetch', '--at', '2026-04-10T00:00:00Z', '--past-hours', '200'], fetcher)
    await ok(['push', '--raw-only'], fetcher)

    // check: no dataset versioned yet (a first run), the new raw files come from S3.
    const checker = await checkout(minio)
    const pulled = await ok(['pull', '--data-version', 'current', '--raw', '--json'], checker)
    assert.equal(pulled.json.dataVersion, null)
    assert.equal(pulled.json.raw.downloaded, 2, 'body and meta')
    await ok(['check'], checker)
    const quality = await ok(['push', '--raw-only', '--json'], checker)
    assert.deepEqual(quality.json.raw, {uploaded: 1, alreadyStored: 2, quarantined: 0})
    assert.equal(quality.json.processed.length, 0)

    // featurize: stores the dataset without DVC and prints its sha256 alone (the task's XCom).
    const featurizer = await checkout(minio)
    await ok(['pull', '--data-version', 'current', '--raw'], featurizer)
    await ok(['featurize'], featurizer)
    const stored = await ok(['push', '--no-dvc', '--print-version'], featurizer)
    assert.match(stored.stdout, /^[0-9a-f]{64}$/)
    sha256 = stored.stdout
    assert.equal(sha256, await hash('sha256', join(featurizer, 'data/processed/dataset.parquet')))

    // push: restores that version (the raw files are merged into it: none needed), versions it with
    // DVC, records it in S3, commits nothing.
    const pusher = await checkout(minio)
    const restored = await ok(['pull', '--data-version', sha256, '--raw', '--json'], pusher)
    assert.equal(restored.json.dataVersion, sha256)
    assert.equal(restored.json.raw.downloaded, 0)
    assert.equal(restored.json.raw.merged, 3)
    const head = (await execa('git', ['rev-parse', 'HEAD'], {cwd: pusher})).stdout
    const versioned = await ok(['push', '--no-git-commit', '--json'], pusher)
    const md5 = await hash('md5', join(pusher, 'data/processed/dataset.parquet'))
    assert.equal(versioned.json.dataVersion, md5)
    assert.equal(versioned.json.gitCommit, null)
    assert.equal((await execa('git', ['rev-parse', 'HEAD'], {cwd: pusher})).stdout, head)

    // Any later task: "current" is that version, with its DVC md5 (train's lineage: versioned).
    const trainer = await checkout(minio)
    const current = await ok(['pull', '--data-version', 'current', '--json'], trainer)
    assert.equal(current.json.dataVersion, sha256)
    assert.equal(current.json.dvcMd5, md5)
    assert.equal(await hash('sha256', join(trainer, 'data/processed/dataset.parquet')), sha256)
    // Restored as a published version of the dataset store: its record sits in the version's directory.
    const {version} = JSON.parse(await readFile(join(trainer, 'data/processed/CURRENT'), 'utf8')) as {version: string}
    const record = JSON.parse(await readFile(join(trainer, 'data/processed/versions', version, 'version.json'), 'utf8'))
    assert.deepEqual([record.sha256, record.dvcMd5], [sha256, md5])
    // DVC itself has the version too.
    assert.ok(existsSync(join(pusher, '.dvc/cache')))
  })

  it('when a run\'s reports are stored under its run id, then a later task gets exactly those, nothing stale', async () => {
    const runId = 'manual__2026-04-10T00:00:00+00:00'
    const drift = await checkout(minio)
    await mkdir(join(drift, 'reports/drift'), {recursive: true})
    await writeFile(join(drift, 'reports/drift/drift.json'), '{"decision": {"retrain": true}}\n')
    await writeFile(join(drift, 'reports/profile.json'), '{"not": "asked for"}\n')
    const pushed = await ok(['push', '--state-only', '--run', runId, '--report', 'reports/drift', '--json'], drift)
    assert.deepEqual(pushed.json.reports, ['runs/manual__2026-04-10T00_00_00_00_00/reports/drift/drift.json'])
    assert.equal(pushed.json.raw.uploaded, 0)

    const promoter = await checkout(minio)
    await mkdir(join(promoter, '.rps/run/compare'), {recursive: true})
    await writeFile(join(promoter, '.rps/run/compare/report.json'), '{"stale": true}\n')
    const pulled = await ok(['pull', '--run', runId, '--json'], promoter)
    assert.equal(pulled.json.reports.length, 1)
    assert.equal(await readFile(join(promoter, '.rps/run/drift/drift.json'), 'utf8'), '{"decision": {"retrain": true}}\n')
    assert.ok(!existsSync(join(promoter, '.rps/run/compare/report.json')), 'a report of another run must not survive')
  })

  it('when the forecast task stores its optional page, then it is kept with the run when written and skipped when not; a missing --report still fails', async () => {
    const page = 'reports/live/forecast.html'
    const args = (runId: string) => ['push', '--state-only', '--live', '--run', runId, '--optional-report', page, '--json']
    const first = await checkout(minio)
    const none = await ok(args('scheduled__first'), first)
    assert.deepEqual(none.json.reports, [], 'no champion, no page: nothing stored and no error')

    const later = await checkout(minio)
    await mkdir(join(later, 'reports/live'), {recursive: true})
    await writeFile(join(later, page), '<!doctype html><title>forecast</title>\n')
    await writeFile(join(later, 'reports/profile.json'), '{"not": "asked for"}\n')
    const stored = await ok(args('scheduled__later'), later)
    assert.deepEqual(stored.json.reports, ['runs/scheduled__later/reports/live/forecast.html'])

    const missing = await rps(['push', '--state-only', '--run', 'r2', '--report', 'reports/drift', '--optional-report', page], env, {cwd: first})
    assert.notEqual(missing.exitCode, 0)
    assert.match(missing.stderr, /no report at reports\/drift to store for run r2/)
  })

  it('when asked for a version that is malformed, missing or corrupt, then it refuses clearly and keeps the local dataset', async () => {
    const worker = await checkout(minio)
    await ok(['pull', '--data-version', sha256], worker)
    const before = await hash('sha256', join(worker, 'data/processed/dataset.parquet'))

    const malformed = await rps(['pull', '--data-version', '../etc'], env, {cwd: worker})
    assert.equal(malformed.exitCode, 5, malformed.stderr)
    assert.match(malformed.stderr, /is not a sha256/)
    const missing = await rps(['pull', '--data-version', '0'.repeat(64)], env, {cwd: worker})
    assert.equal(missing.exitCode, 1, missing.stderr)
    assert.match(missing.stderr, /data version 0{64} is not in s3:\/\/rps-data\/processed\/0{64}\//)

    // A version whose stored dataset does not hash to its name.
    const fake = 'f'.repeat(64)
    const {S3Client, PutObjectCommand} = await import('@aws-sdk/client-s3')
    const client = new S3Client({endpoint: minio.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: {accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY!}})
    for (const name of ['dataset.parquet', 'dataset.json']) await client.send(new PutObjectCommand({Bucket: 'rps-data', Key: `processed/${fake}/${name}`, Body: 'tampered'}))
    client.destroy()
    const corrupt = await rps(['pull', '--data-version', fake], env, {cwd: worker})
    assert.equal(corrupt.exitCode, 1, corrupt.stderr)
    assert.match(corrupt.stderr, /hashes to [0-9a-f]{64}, not f{64}; not restored/)
    assert.equal(await hash('sha256', join(worker, 'data/processed/dataset.parquet')), before)

    const nothing = await rps(['pull'], env, {cwd: worker})
    assert.equal(nothing.exitCode, 5)
    assert.match(nothing.stderr, /nothing to pull/)
    const outside = await rps(['pull', '--run', 'r1', '--into', '..'], env, {cwd: worker})
    assert.equal(outside.exitCode, 5)
    assert.match(outside.stderr, /must be a folder inside the work directory/)
    const report = await rps(['push', '--state-only', '--run', 'r1', '--report', '/etc/passwd'], env, {cwd: worker})
    assert.equal(report.exitCode, 5)
    assert.match(report.stderr, /is not inside the work directory/)
  })
})
