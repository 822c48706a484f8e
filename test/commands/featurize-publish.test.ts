import {strict as assert} from 'node:assert'
import {createHash} from 'node:crypto'
import {execa} from 'execa'
import {existsSync} from 'node:fs'
import {readFile, readdir, stat, truncate, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {loadParams} from '../../src/lib/config/params.js'
import {openDataset, processedRoot} from '../../src/lib/features/dataset-store.js'
import {fetchRaw} from '../../src/lib/fetch/fetch-raw.js'
import {checkRawFiles} from '../../src/lib/quality/check-files.js'
import {ROOT, rps, scratch} from '../support/rps.js'

const HOUR = 3_600_000
const T0 = Date.parse('2026-05-10T00:00:00Z')
const sha256 = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Project {
  dir: string
  params: string
  env: Record<string, string>
  /** Distinct collection times for in-process fetches. */
  clock: number
}

async function project(): Promise<Project> {
  const {dir, params} = await scratch()
  return {dir, params, env: {RPS_DATA_DIR: join(dir, 'data')}, clock: Date.parse('2026-06-01T00:00:00Z')}
}

/** A replay fetch ending at `atMs` that passed the gate (fetch and check run in-process: setup only). */
async function fetchChecked(p: Project, atMs: number, pastHours: number): Promise<string[]> {
  const params = loadParams(p.params)
  p.clock += 1000
  const fetched = await fetchRaw(params, {source: 'replay', at: new Date(atMs).toISOString(), pastHours, env: p.env, now: new Date(p.clock)})
  const bodies = fetched.files.map((f) => f.body)
  const checked = await checkRawFiles(bodies, params, p.env)
  assert.ok(checked.reports.every((r) => r.passed), 'setup: the fetch passes the gate')
  return bodies
}

const featurizeArgs = (p: Project) => [join(ROOT, 'bin/run.js'), 'featurize', '--source', 'replay', '--params', p.params, '--json']
const spawnFeaturize = (p: Project) => execa(process.execPath, featurizeArgs(p), {env: {...p.env, CI: 'true', NO_COLOR: '1'}, cwd: ROOT, reject: false})

/**
 * The published set is one version: every file matches the manifest CURRENT points at, and
 * dataset.json names the dataset.parquet beside it. Checked with our own hashes, not the reader's.
 */
async function assertOneVersion(p: Project): Promise<{mergedFiles: string[]; summary: any}> {
  const root = processedRoot(p.env)
  const {version} = JSON.parse(await readFile(join(root, 'CURRENT'), 'utf8'))
  const dir = join(root, 'versions', version)
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'))
  assert.equal(manifest.version, version)
  assert.deepEqual(Object.keys(manifest.files).sort(), ['dataset.json', 'dataset.parquet', 'observations.json', 'observations.parquet'])
  for (const [name, digest] of Object.entries<any>(manifest.files)) assert.equal(await sha256(join(dir, name)), digest.sha256, `${version}/${name} matches the manifest`)
  const summary = JSON.parse(await readFile(join(dir, 'dataset.json'), 'utf8'))
  assert.equal(summary.sha256, await sha256(join(dir, 'dataset.parquet')), 'dataset.json describes this dataset.parquet')
  assert.equal(summary.version, version)
  const set = await openDataset(root)
  assert.equal(set?.version, version, 'the reader opens the version CURRENT names')
  return {mergedFiles: JSON.parse(await readFile(join(dir, 'observations.json'), 'utf8')).mergedFiles, summary}
}

/** Every file and directory under `dir` with its inode and mtime: what a writer changes. */
async function snapshot(dir: string): Promise<string> {
  const out: string[] = []
  const walk = async (d: string) => {
    for (const e of await readdir(d, {withFileTypes: true}).catch(() => [])) {
      const full = join(d, e.name)
      const st = await stat(full).catch(() => undefined)
      if (st) out.push(`${full}:${st.ino}:${st.mtimeMs}`)
      if (e.isDirectory()) await walk(full)
    }
  }
  await walk(dir)
  return out.sort().join('\n')
}

/** Resolves at the first change under `dir` (polled every few ms), or after `timeoutMs`. */
async function firstChange(dir: string, timeoutMs: number): Promise<void> {
  const before = await snapshot(dir)
  const until = Date.now() + timeoutMs
  while (Date.now() < until && (await snapshot(dir)) === before) await sleep(3)
}

describe('rps featurize: one published version, locked, verified raw files', function () {
  this.timeout(600_000)

  it('when 50 featurize runs are killed with -9 at random instants (5 at a time), then readers always see one complete version', async () => {
    const p = await project()
    await fetchChecked(p, T0, 240)
    const started = Date.now()
    const base = await spawnFeaturize(p)
    const runMs = Date.now() - started
    assert.equal(base.exitCode, 0, base.stderr)
    await assertOneVersion(p)
    let killedWhileRunning = 0
    let completed = 0
    const processed = join(p.dir, 'data/processed')
    for (let round = 0; round < 10; round++) {
      await fetchChecked(p, T0 + (round + 1) * HOUR, 48)
      // Even rounds: instants spread over the whole run. Odd rounds: aimed at the publish, each
      // run killed 0-50 ms after the first change under data/processed.
      const publishStarted = round % 2 === 1 ? firstChange(processed, runMs * 3) : undefined
      const runs = Array.from({length: 5}, () => {
        const child = spawnFeaturize(p)
        let exited = false
        void child.then(() => (exited = true))
        const kill = () => {
          if (!exited) {
            killedWhileRunning++
            child.kill('SIGKILL')
          }
        }
        let timer: NodeJS.Timeout | undefined
        if (publishStarted) void publishStarted.then(() => (timer = setTimeout(kill, Math.random() * 50)))
        else timer = setTimeout(kill, Math.random() * runMs * 1.5)
        return child.then((r) => {
          clearTimeout(timer)
          if (r.exitCode === 0) completed++
          else assert.ok(r.signal === 'SIGKILL', `a run that was not killed succeeds: ${r.stderr}`)
          return r
        })
      })
      await Promise.all(runs)
      await publishStarted
      await assertOneVersion(p)
    }
    assert.ok(killedWhileRunning >= 30, `most kills hit a running featurize (${killedWhileRunning} of 50; ${completed} completed)`)
    // After the crashes a normal run succeeds, merges every raw file and leaves nothing behind.
    const last = await spawnFeaturize(p)
    assert.equal(last.exitCode, 0, last.stderr)
    const {mergedFiles, summary} = await assertOneVersion(p)
    const raw = (await readdir(join(p.dir, 'data/raw/replay/greensboro-nc'))).filter((n) => /-replay\.json$/.test(n))
    assert.deepEqual(mergedFiles, raw.sort(), 'every raw file is in the history once')
    assert.equal(summary.history.last, new Date(T0 + 10 * HOUR).toISOString())
    const versions = await readdir(join(p.dir, 'data/processed/versions'))
    assert.ok(versions.every((v) => !v.startsWith('.staging-')), `no staging dir left: ${versions.join(', ')}`)
    assert.ok(versions.length <= 3, 'old versions are pruned')
    // The DVC view (what dvc.yaml tracks) is the current version.
    assert.equal(await sha256(join(p.dir, 'data/processed/dataset.parquet')), summary.sha256)
  })

  it('when a second featurize starts while the first is paused mid-run, then the newer data merged by the later run survives', async () => {
    const p = await project()
    await fetchChecked(p, T0, 240)
    const started = Date.now()
    assert.equal((await spawnFeaturize(p)).exitCode, 0)
    const runMs = Date.now() - started
    await fetchChecked(p, T0 + 24 * HOUR, 48)
    // Pause A in its critical section: at its first write under data/processed (history already read).
    const aWrites = firstChange(join(p.dir, 'data/processed'), runMs * 3)
    const a = spawnFeaturize(p)
    await aWrites
    a.kill('SIGSTOP')
    const newest = await fetchChecked(p, T0 + 48 * HOUR, 48)
    const b = spawnFeaturize(p)
    await sleep(Math.max(1500, runMs))
    a.kill('SIGCONT')
    const [ra, rb] = await Promise.all([a, b])
    assert.equal(ra.exitCode, 0, ra.stderr)
    assert.equal(rb.exitCode, 0, rb.stderr)
    const {mergedFiles, summary} = await assertOneVersion(p)
    assert.ok(mergedFiles.includes(newest[0]!.split('/').at(-1)!), 'the newest raw file stays merged')
    assert.equal(summary.history.last, new Date(T0 + 48 * HOUR).toISOString(), 'no rollback to the older history')
  })

  it('when checked raw files are truncated or edited to 999 °C, then featurize quarantines them, goes on, and later runs succeed', async () => {
    const p = await project()
    await fetchChecked(p, T0, 240)
    assert.equal((await rps(['featurize', '--source', 'replay', '--params', p.params], p.env)).exitCode, 0)
    const [truncated] = await fetchChecked(p, T0 + 12 * HOUR, 24)
    await truncate(truncated!, 100)
    const [edited] = await fetchChecked(p, T0 + 24 * HOUR, 24)
    const body = JSON.parse(await readFile(edited!, 'utf8'))
    body.hourly.temperature_2m[body.hourly.temperature_2m.length - 1] = 999
    await writeFile(edited!, JSON.stringify(body))

    const run = await rps(['featurize', '--source', 'replay', '--params', p.params, '--json'], p.env)
    assert.equal(run.exitCode, 0, run.stderr)
    assert.equal(run.json.raw.quarantined, 2)
    assert.deepEqual(run.json.quarantined.map((q: any) => q.code), ['SHA256_MISMATCH', 'SHA256_MISMATCH'])
    assert.equal(run.json.raw.merged, 0)
    assert.equal(run.json.history.last, new Date(T0).toISOString(), 'neither file entered the history')
    for (const file of [truncated!, edited!]) {
      assert.ok(!existsSync(file), 'moved out of data/raw')
      const moved = join(p.dir, 'data/quarantine/replay/greensboro-nc', file.split('/').at(-1)!)
      assert.ok(existsSync(moved) && existsSync(moved.replace(/\.json$/, '.meta.json')))
      const reason = JSON.parse(await readFile(moved.replace(/\.json$/, '.reason.json'), 'utf8'))
      assert.match(reason.reason, /differs from bodySha256/)
    }
    const text = await rps(['featurize', '--source', 'replay', '--params', p.params], p.env)
    assert.equal(text.exitCode, 0, text.stderr)
    assert.match(text.stderr + text.stdout, /0 quarantined/)

    await fetchChecked(p, T0 + 36 * HOUR, 48)
    const later = await rps(['featurize', '--source', 'replay', '--params', p.params, '--json'], p.env)
    assert.equal(later.exitCode, 0, later.stderr)
    assert.equal(later.json.raw.merged, 1)
    assert.equal(later.json.history.last, new Date(T0 + 36 * HOUR).toISOString())
    const {summary} = await assertOneVersion(p)
    assert.equal(summary.raw.quarantined, 0)

    // check verifies too: a body changed before the gate is quarantined, counted, and does not fail it.
    const [tampered] = await (async () => {
      const params = loadParams(p.params)
      p.clock += 1000
      const f = await fetchRaw(params, {source: 'replay', at: new Date(T0 + 40 * HOUR).toISOString(), pastHours: 24, env: p.env, now: new Date(p.clock)})
      return f.files.map((x) => x.body)
    })()
    await writeFile(tampered!, (await readFile(tampered!, 'utf8')).replace(/\d+\.\d/, '999.0'))
    const check = await rps(['check', '--source', 'replay', '--params', p.params, '--json'], p.env)
    assert.equal(check.exitCode, 0, check.stderr)
    assert.equal(check.json.quarantined.length, 1)
    assert.equal(check.json.reports.length, 0)
  })
})
