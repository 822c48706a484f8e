import {randomBytes} from 'node:crypto'
import {readFileSync, rmSync} from 'node:fs'
import {link, mkdir, readFile, rename, rm, writeFile} from 'node:fs/promises'
import {hostname} from 'node:os'
import {dirname, join, resolve} from 'node:path'

import {RpsError} from '../errors.js'
import {workDir} from './project.js'

/** What a lock file holds: enough to name the holder and to tell a crashed one from a live one. */
export interface LockOwner {
  pid: number
  /** The process start time from /proc (clock ticks since boot): a reused pid has another one. */
  processStart: string | null
  host: string
  command: string
  acquiredAt: string
  token: string
}

export interface LockOptions {
  env?: NodeJS.ProcessEnv
  /** How long to wait for the holder (ms); 0 fails at once. Default: RPS_LOCK_WAIT_SECONDS, else 120 s. */
  waitMs?: number
  /** What the holder is doing, e.g. `rps featurize` (shown to whoever waits). */
  command?: string
  onWait?: (holder: LockOwner) => void
}

export interface HeldLock {
  path: string
  owner: LockOwner
  release(): Promise<void>
}

const POLL_MS = 100

/** Where lock files live: RPS_LOCK_DIR, else <data dir>/.locks (beside the state they guard). */
export function lockDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.RPS_LOCK_DIR ?? join(env.RPS_DATA_DIR ?? join(workDir(), 'data'), '.locks'))
}

function processStart(pid: number): string | null {
  try {
    // Field 22 of /proc/<pid>/stat; the command name (field 2) may contain spaces, so count from ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null
  } catch {
    return null
  }
}

/** A holder is alive when its pid runs on this host with the same start time (pids get reused). */
export function holderAlive(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return true
  try {
    process.kill(owner.pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false
  }
  const start = processStart(owner.pid)
  return owner.processStart === null || start === null || start === owner.processStart
}

async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as LockOwner
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    // Lock files are complete when they appear (link of a written file): unparsable means foreign.
    throw new RpsError(`lock file ${path} is unreadable; remove it if no rps command is running`, {code: 'LOCK_UNREADABLE'})
  }
}

export function describeHolder(owner: LockOwner): string {
  return `${owner.command} (pid ${owner.pid} on ${owner.host}, since ${owner.acquiredAt})`
}

/**
 * Removes a lock whose holder died. The lock is first renamed to a private name, so two
 * processes breaking the same stale lock cannot remove a fresh one taken in between.
 */
async function breakStale(path: string, stale: LockOwner): Promise<void> {
  const aside = `${path}.stale.${process.pid}.${randomBytes(4).toString('hex')}`
  try {
    await rename(path, aside)
  } catch {
    return
  }
  const moved = await readOwner(aside).catch(() => undefined)
  if (moved && moved.token !== stale.token) {
    // A live lock was taken between our read and the rename: put it back.
    await link(aside, path).catch(() => {})
  }
  await rm(aside, {force: true})
}

async function tryAcquire(path: string, owner: LockOwner): Promise<boolean> {
  const tmp = `${path}.${owner.token}.tmp`
  await writeFile(tmp, JSON.stringify(owner) + '\n')
  try {
    await link(tmp, path)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  } finally {
    await rm(tmp, {force: true})
  }
}

function waitMsFrom(options: LockOptions): number {
  if (options.waitMs !== undefined) return options.waitMs
  const env = options.env ?? process.env
  const seconds = env.RPS_LOCK_WAIT_SECONDS === undefined ? 120 : Number(env.RPS_LOCK_WAIT_SECONDS)
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : 120_000
}

/**
 * Takes the exclusive lock `name` (a file in lockDir holding pid, process start, host, command).
 * Waits while a live process holds it (up to waitMs, then fails naming the holder); a lock left by
 * a crashed process (pid gone or reused) is broken. Released by release() or when the process exits.
 */
export async function acquireLock(name: string, options: LockOptions = {}): Promise<HeldLock> {
  const path = join(lockDir(options.env ?? process.env), `${name}.lock`)
  await mkdir(dirname(path), {recursive: true})
  const owner: LockOwner = {
    pid: process.pid,
    processStart: processStart(process.pid),
    host: hostname(),
    command: options.command ?? `rps ${process.argv.slice(2, 3).join(' ')}`.trim(),
    acquiredAt: new Date().toISOString(),
    token: randomBytes(8).toString('hex'),
  }
  const deadline = Date.now() + waitMsFrom(options)
  let told = false
  for (;;) {
    owner.acquiredAt = new Date().toISOString()
    if (await tryAcquire(path, owner)) break
    const holder = await readOwner(path)
    if (!holder) continue
    if (!holderAlive(holder)) {
      await breakStale(path, holder)
      continue
    }
    if (Date.now() >= deadline) {
      throw new RpsError(`${name} is locked by ${describeHolder(holder)}; lock file ${path}`, {
        code: 'LOCKED',
        suggestions: ['wait for it to finish (RPS_LOCK_WAIT_SECONDS sets how long rps waits)', `if that process is gone, remove ${path}`],
      })
    }
    if (!told) {
      options.onWait?.(holder)
      told = true
    }
    await new Promise((r) => setTimeout(r, POLL_MS))
  }
  const onExit = () => {
    try {
      const current = JSON.parse(readFileSync(path, 'utf8')) as LockOwner
      if (current.token === owner.token) rmSync(path, {force: true})
    } catch {
      // gone already
    }
  }
  process.once('exit', onExit)
  return {
    path,
    owner,
    async release() {
      process.removeListener('exit', onExit)
      const current = await readOwner(path).catch(() => undefined)
      if (current?.token === owner.token) await rm(path, {force: true})
    },
  }
}

/** Runs `fn` holding the lock `name`; the lock is released however `fn` ends. */
export async function withLock<T>(name: string, options: LockOptions, fn: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(name, options)
  try {
    return await fn()
  } finally {
    await lock.release()
  }
}
