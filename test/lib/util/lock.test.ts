import {strict as assert} from 'node:assert'
import {type ResultPromise, execa} from 'execa'
import {existsSync} from 'node:fs'
import {mkdtemp, readFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {acquireLock} from '../../../src/lib/util/lock.js'
import {ROOT} from '../../support/rps.js'

/** A real process that takes the lock, says so, and holds it for `holdMs`. */
function holder(env: Record<string, string>, holdMs: number): {child: ResultPromise; ready: Promise<void>} {
  const mod = join(ROOT, 'dist/src/lib/util/lock.js')
  const child = execa(process.execPath, ['--input-type=module', '-e', `
    const {acquireLock} = await import(${JSON.stringify(mod)})
    const lock = await acquireLock('t', {command: 'test holder'})
    console.log('held')
    await new Promise((r) => setTimeout(r, ${holdMs}))
    await lock.release()
  `], {env: {...process.env, ...env}, reject: false})
  const ready = new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => String(d).includes('held') && resolve()))
  return {child, ready}
}

describe('exclusive lock (util/lock)', function () {
  this.timeout(60_000)
  let env: Record<string, string>

  beforeEach(async () => {
    env = {RPS_LOCK_DIR: await mkdtemp(join(tmpdir(), 'rps-lock-'))}
  })

  it('when a live process holds the lock, then a fail-fast caller gets an error naming the holder', async () => {
    const h = holder(env, 30_000)
    await h.ready
    await assert.rejects(acquireLock('t', {env, waitMs: 0}), (e: Error) => {
      assert.match(e.message, new RegExp(`t is locked by test holder \\(pid ${h.child.pid} on `))
      return true
    })
    h.child.kill('SIGKILL')
    await h.child
  })

  it('when the holder is killed with -9, then its stale lock is broken and the next caller gets it at once', async () => {
    const h = holder(env, 30_000)
    await h.ready
    const file = join(env.RPS_LOCK_DIR!, 't.lock')
    assert.equal(JSON.parse(await readFile(file, 'utf8')).pid, h.child.pid)
    h.child.kill('SIGKILL')
    await h.child
    assert.ok(existsSync(file), 'kill -9 leaves the lock file behind')
    const lock = await acquireLock('t', {env, waitMs: 0})
    assert.equal(JSON.parse(await readFile(file, 'utf8')).pid, process.pid)
    await lock.release()
    assert.ok(!existsSync(file))
  })

  it('when the holder releases within the wait, then a waiting caller gets the lock after it', async () => {
    const h = holder(env, 800)
    await h.ready
    let waited = false
    const lock = await acquireLock('t', {env, waitMs: 20_000, onWait: () => (waited = true)})
    assert.ok(waited, 'the caller had to wait')
    assert.equal((await h.child).exitCode, 0)
    await lock.release()
  })
})
