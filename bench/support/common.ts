import {type ChildProcess, spawn} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {cpus, freemem, loadavg, release, totalmem, type as osType, arch} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

function findRoot(from: string): string {
  let dir = from
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'schemas'))) {
    const parent = dirname(dir)
    if (parent === dir) throw new Error('bench: cannot find the project root (package.json + schemas/)')
    dir = parent
  }
  return dir
}

/** The repository root: the nearest ancestor with package.json and schemas/ (as src/lib/util/project.ts finds it). */
export const ROOT = findRoot(dirname(fileURLToPath(import.meta.url)))
/** Compiled bench modules (dist/bench). */
export const BENCH_DIST = resolve(dirname(fileURLToPath(import.meta.url)), '..')
export const BENCH_SRC = join(ROOT, 'bench')
export const VENV_PYTHON = process.env.RPS_BENCH_PYTHON ?? join(ROOT, '.rps/venv/bin/python')
export const VENV_BIN = dirname(VENV_PYTHON)

/** One line of the printed summary table. */
export interface TableRow {
  metric: string
  value: string
  target?: string
  met?: boolean | null
}

export interface BenchContext {
  /** A scratch directory of this benchmark (removed afterwards). */
  tmp: string
  log: (line: string) => void
}

export interface BenchOutput {
  config: Record<string, unknown>
  results: Record<string, unknown>
  targets: Record<string, string>
  /** true / false per target; null when it could not be measured. */
  met: Record<string, boolean | null>
  table: TableRow[]
  /** Set when the benchmark did not run: why. */
  skipped?: string
}

export type BenchFn = (ctx: BenchContext) => Promise<BenchOutput>

export interface MachineInfo {
  cpus: {model: string; count: number}
  memGiB: number
  freeMemGiB: number
  node: string
  os: string
  /** 1/5/15-minute load averages: other work on the machine skews wall times. */
  loadavg: number[]
}

function osPrettyName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))
    return m ? `${m[1]}, ` : ''
  } catch {
    return ''
  }
}

export function machineInfo(): MachineInfo {
  const list = cpus()
  return {
    cpus: {model: list[0]?.model.trim() ?? 'unknown', count: list.length},
    memGiB: round(totalmem() / 2 ** 30, 1),
    freeMemGiB: round(freemem() / 2 ** 30, 1),
    node: process.version,
    os: `${osPrettyName()}${osType()} ${release()} ${arch()}`,
    loadavg: loadavg().map((x) => round(x, 2)),
  }
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

export function median(values: number[]): number {
  return quantile(values, 0.5)
}

/** Linear-interpolated quantile of unsorted values. */
export function quantile(values: number[] | Float64Array, q: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = Float64Array.from(values).sort()
  const pos = (sorted.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo)
}

export function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length
}

export function std(values: number[]): number {
  const m = mean(values)
  return Math.sqrt(values.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, values.length - 1))
}

/** CPU seconds (user + system) of this process, all threads included. */
export function cpuSeconds(): number {
  const u = process.resourceUsage()
  return (u.userCPUTime + u.systemCPUTime) / 1e6
}

export const MiB = 2 ** 20

/** A TCP port that was free a moment ago (for servers that cannot listen on port 0 and report it). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolvePort(port))
    })
  })
}

/** Peak and current resident set size of a process, from /proc (MiB). */
export function procMemory(pid: number): {vmHwmMiB: number; vmRssMiB: number} | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN)
    return {vmHwmMiB: round(kb('VmHWM') / 1024, 1), vmRssMiB: round(kb('VmRSS') / 1024, 1)}
  } catch {
    return undefined
  }
}

export interface Child {
  child: ChildProcess
  output: () => string
  /** Resolves with the first match of `pattern` in stdout+stderr, rejects if the process exits first. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray>
  /** SIGTERM (then SIGKILL after `graceMs`) to this process, or to its process group when started detached. */
  stop(graceMs?: number): Promise<void>
}

/** Starts a long-running child process (a server) and keeps its output. */
export function startChild(command: string, args: string[], options: {env?: NodeJS.ProcessEnv; cwd?: string; group?: boolean} = {}): Child {
  const child = spawn(command, args, {
    env: {...process.env, ...options.env}, cwd: options.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: options.group ?? false,
  })
  let out = ''
  const keep = (d: Buffer) => {
    out += d.toString()
    if (out.length > 200_000) out = out.slice(-100_000)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const kill = (signal: NodeJS.Signals) => {
    try {
      if (options.group && child.pid) process.kill(-child.pid, signal)
      else child.kill(signal)
    } catch {
      // already gone
    }
  }
  const onExit = () => kill('SIGKILL')
  process.once('exit', onExit)
  return {
    child,
    output: () => out,
    waitFor: (pattern, timeoutMs) => new Promise((resolveMatch, reject) => {
      const check = () => {
        const m = pattern.exec(out)
        if (m) {
          cleanup()
          resolveMatch(m)
        }
      }
      const onEarlyExit = (code: number | null) => {
        cleanup()
        reject(new Error(`${command} exited (${code}) before printing ${pattern}: ${out.slice(-2000)}`))
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`${command} did not print ${pattern} within ${timeoutMs} ms: ${out.slice(-2000)}`))
      }, timeoutMs)
      const cleanup = () => {
        clearTimeout(timer)
        child.stdout!.off('data', check)
        child.stderr!.off('data', check)
        child.off('exit', onEarlyExit)
      }
      child.stdout!.on('data', check)
      child.stderr!.on('data', check)
      child.once('exit', onEarlyExit)
      check()
    }),
    stop: (graceMs = 10_000) => new Promise<void>((resolveStop) => {
      process.off('exit', onExit)
      if (child.exitCode !== null || child.signalCode !== null) {
        if (options.group) kill('SIGKILL') // leftovers in the group
        resolveStop()
        return
      }
      const timer = setTimeout(() => kill('SIGKILL'), graceMs)
      child.once('exit', () => {
        clearTimeout(timer)
        if (options.group) kill('SIGKILL')
        resolveStop()
      })
      kill('SIGTERM')
    }),
  }
}

/** Runs a command to completion; rejects on a non-zero exit with its output. */
export function runCommand(command: string, args: string[], options: {env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number} = {}): Promise<{stdout: string; stderr: string; seconds: number}> {
  return new Promise((resolveRun, reject) => {
    const started = performance.now()
    const child = spawn(command, args, {env: {...process.env, ...options.env}, cwd: options.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = options.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs) : undefined
    child.once('error', reject)
    child.once('close', (code, signal) => {
      if (timer) clearTimeout(timer)
      const seconds = (performance.now() - started) / 1000
      if (code === 0) resolveRun({stdout, stderr, seconds})
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code ?? signal}:\n${stderr.slice(-4000)}${stdout.slice(-2000)}`))
    })
  })
}

/** The JSON object a helper process prints as its last stdout line. */
export function lastJsonLine<T>(stdout: string): T {
  const line = stdout.trim().split('\n').at(-1) ?? ''
  return JSON.parse(line) as T
}

export function fmt(x: number | null | undefined, digits = 2): string {
  return x === null || x === undefined || Number.isNaN(x) ? 'n/a' : x.toFixed(digits)
}
