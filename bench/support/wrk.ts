import {spawn} from 'node:child_process'
import {writeFile} from 'node:fs/promises'
import {join} from 'node:path'

/** What one closed-loop load run measured: 2xx responses only in the latencies wrk keeps all of. */
export interface LoadResult {
  connections: number
  seconds: number
  requests2xx: number
  non2xx: number
  errors: number
  timeouts: number
  requestsPerSecond: number
  latencyMs: {p50: number; p90: number; p99: number; max: number; mean: number}
}

// wrk runs this in each of its threads: POST the body file, then print one JSON line of its summary.
// Latencies come from wrk's own HdrHistogram in microseconds.
const SCRIPT = `
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open(os.getenv("RPS_WRK_BODY"), "rb"))
wrk.body = f:read("*a")
f:close()
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"durationUs":%d,"status":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.3f}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
`

let scriptPath: string | undefined
let bodyCount = 0

/** True when the `wrk` load generator is on PATH. */
export async function haveWrk(): Promise<boolean> {
  return new Promise((resolveHave) => {
    const child = spawn('wrk', ['--version'], {stdio: 'ignore'})
    child.once('error', () => resolveHave(false))
    child.once('close', () => resolveHave(true))
  })
}

/**
 * One closed-loop load point with wrk (C, one thread: it needs far less CPU than a Node load
 * generator, so on a 2-core machine the server under test keeps a core of its own).
 */
export async function wrkLoad(tmp: string, url: string, body: string, connections: number, seconds: number): Promise<LoadResult> {
  scriptPath ??= join(tmp, 'wrk-post.lua')
  await writeFile(scriptPath, SCRIPT)
  const bodyPath = join(tmp, `wrk-body-${bodyCount++}.json`)
  await writeFile(bodyPath, body)
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '20s', '-s', scriptPath, url]
  const stdout = await new Promise<string>((resolveRun, reject) => {
    const child = spawn('wrk', args, {env: {...process.env, RPS_WRK_BODY: bodyPath}, stdio: ['ignore', 'pipe', 'pipe']})
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    child.once('error', reject)
    child.once('close', (code) => (code === 0 ? resolveRun(out) : reject(new Error(`wrk ${args.join(' ')} exited with ${code}: ${err}${out}`))))
  })
  const line = stdout.split('\n').find((l) => l.startsWith('{"requests"'))
  if (!line) throw new Error(`wrk printed no summary: ${stdout.slice(-2000)}`)
  const s = JSON.parse(line) as Record<string, number>
  const durationS = s.durationUs! / 1e6
  const ok = s.requests! - s.status!
  const ms = (us: number) => Math.round(us) / 1000
  return {
    connections, seconds: Math.round(durationS * 100) / 100, requests2xx: ok, non2xx: s.status!,
    errors: s.connect! + s.read! + s.write!, timeouts: s.timeout!,
    requestsPerSecond: Math.round((ok / durationS) * 10) / 10,
    latencyMs: {p50: ms(s.p50!), p90: ms(s.p90!), p99: ms(s.p99!), max: ms(s.max!), mean: ms(s.mean!)},
  }
}
