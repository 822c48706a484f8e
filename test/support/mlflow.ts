import {type ChildProcess, spawn} from 'node:child_process'
import {mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {type MinioInstance, freePort, startMinio} from './minio.js'
import {ROOT} from './rps.js'

export interface TrackingStack {
  minio: MinioInstance
  trackingUri: string
  /** Everything an rps subprocess needs to reach MLflow and MinIO. */
  env: Record<string, string>
}

let shared: Promise<TrackingStack> | undefined
const children: ChildProcess[] = []

process.on('exit', () => {
  for (const c of children) {
    try {
      process.kill(-c.pid!, 'SIGTERM')
    } catch {
      // already gone
    }
  }
})

export interface MlflowServer {
  trackingUri: string
  port: number
  /** sqlite backend folder: a restart on the same port and folder is the same server. */
  dir: string
  child: ChildProcess
  /** Kills the process (default SIGKILL: the server just goes away) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>
}

/** A real MLflow tracking server on `port` (default: a free one) with its sqlite backend in `dir` and artifacts in MinIO. */
export async function startMlflowServer(minio: MinioInstance, options: {dir?: string; port?: number; bucket?: string} = {}): Promise<MlflowServer> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'rps-mlflow-')))
  const port = options.port ?? (await freePort())
  const child = spawn(join(ROOT, '.rps/venv/bin/mlflow'), [
    'server', '--backend-store-uri', `sqlite:///${dir}/mlflow.db`, '--artifacts-destination', `s3://${options.bucket ?? 'rps-mlflow'}/artifacts`,
    '--serve-artifacts', '--host', '127.0.0.1', '--port', String(port), '--workers', '1', '--allowed-hosts', `127.0.0.1:${port},localhost:${port}`,
  ], {
    env: {...process.env, MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false', MLFLOW_S3_ENDPOINT_URL: minio.endpoint, AWS_ACCESS_KEY_ID: minio.env.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: minio.env.AWS_SECRET_ACCESS_KEY},
    stdio: 'ignore',
    // its own process group: kill() takes the server's workers with it
    detached: true,
  })
  children.push(child)
  child.unref()
  const trackingUri = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 120_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`mlflow server exited with ${child.exitCode}`)
    try {
      if ((await fetch(`${trackingUri}/health`)).ok) break
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error('mlflow server not ready in 120 s')
    await new Promise((r) => setTimeout(r, 300))
  }
  return {
    trackingUri, port, dir, child,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      process.kill(-child.pid!, signal)
      await exited
    },
  }
}

async function start(): Promise<TrackingStack> {
  const minio = await startMinio('rps-mlflow')
  const {trackingUri} = await startMlflowServer(minio)
  return {minio, trackingUri, env: {...minio.env, RPS_S3_BUCKET: 'rps-data', MLFLOW_TRACKING_URI: trackingUri}}
}

/** One real MLflow tracking server (sqlite + artifacts proxied to a real MinIO) per test process. */
export function trackingStack(): Promise<TrackingStack> {
  shared ??= start()
  return shared
}
