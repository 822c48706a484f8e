import {CreateBucketCommand, S3Client} from '@aws-sdk/client-s3'
import {type ChildProcess, spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {mkdtemp} from 'node:fs/promises'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {killOnExit} from './kill-on-exit.js'
import {ROOT} from './rps.js'

export interface MinioInstance {
  endpoint: string
  env: Record<string, string>
  dir: string
  stop(): Promise<void>
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const {port} = server.address() as {port: number}
      server.close(() => resolve(port))
    })
  })
}

export function minioBinary(): string {
  const local = join(ROOT, '.rps/tools/bin/minio')
  if (existsSync(local)) return local
  return 'minio'
}

/** A private MinIO server (real binary) on a free loopback port, with one bucket. */
export async function startMinio(bucket = 'rps-data'): Promise<MinioInstance> {
  const dir = await mkdtemp(join(tmpdir(), 'rps-minio-'))
  const port = await freePort()
  const consolePort = await freePort()
  const env = {MINIO_ROOT_USER: 'rps-test', MINIO_ROOT_PASSWORD: 'rps-test-secret', MINIO_BROWSER: 'off'}
  const child: ChildProcess = spawn(minioBinary(), ['server', join(dir, 'data'), '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${consolePort}`, '--quiet'], {
    env: {...process.env, ...env}, stdio: 'ignore',
  })
  // Never keep the test process alive for it; it is killed when the process exits.
  child.unref()
  killOnExit(child)
  const endpoint = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`minio exited with ${child.exitCode}`)
    try {
      const r = await fetch(`${endpoint}/minio/health/ready`)
      if (r.ok) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('minio did not become ready in 60 s')
    await new Promise((r) => setTimeout(r, 200))
  }
  const client = new S3Client({endpoint, region: 'us-east-1', forcePathStyle: true, credentials: {accessKeyId: env.MINIO_ROOT_USER, secretAccessKey: env.MINIO_ROOT_PASSWORD}})
  await client.send(new CreateBucketCommand({Bucket: bucket}))
  client.destroy()
  return {
    endpoint,
    dir,
    env: {RPS_S3_ENDPOINT: endpoint, RPS_S3_BUCKET: bucket, AWS_ACCESS_KEY_ID: env.MINIO_ROOT_USER, AWS_SECRET_ACCESS_KEY: env.MINIO_ROOT_PASSWORD},
    async stop() {
      if (child.exitCode !== null) return
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      })
    },
  }
}
