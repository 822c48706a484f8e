import {existsSync} from 'node:fs'
import {readFile, readdir} from 'node:fs/promises'
import {join, relative} from 'node:path'

import {commitAndPushStage, gitCommitLock, lockedMd5} from '../dvc/dvc.js'
import {RpsError, TransportError} from '../errors.js'
import {processedPaths} from '../features/featurize.js'
import {dataDir} from '../raw/store.js'
import {isTempName} from '../util/atomic-file.js'
import {workDir} from '../util/project.js'
import {ensureBucket, listKeys, s3Client, s3Settings, uploadFile} from './s3.js'

export const DATASET_STAGE = 'featurize'

export interface PushOptions {
  env?: NodeJS.ProcessEnv
  /** Skip DVC (object storage only). */
  dvc?: boolean
  /** Commit dvc.lock to git after a successful push. */
  gitCommit?: boolean
  onProgress?: (line: string) => void
}

export interface PushResult {
  bucket: string
  raw: {uploaded: number; alreadyStored: number}
  processed: string[]
  dataVersion: string | null
  gitCommit: string | null
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, {withFileTypes: true}).catch(() => [])) {
    const full = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...(await listFiles(full)))
    else if (!isTempName(entry.name)) out.push(full)
  }
  return out
}

/** `dvc push` is the remote step: its failure is a transport failure (exit 4), like the S3 uploads'. */
export function asTransportError(error: unknown): unknown {
  if (error instanceof RpsError && error.code === 'DVC_FAILED' && error.message.startsWith('dvc push')) {
    return new TransportError(`${error.message} (dvc.lock left as it was; run rps push again when the store answers)`, {code: 'DVC_PUSH_FAILED', cause: error})
  }
  return error
}

/**
 * Stores raw files (keyed raw/<source>/<location>/<file>) and the processed dataset (keyed by
 * its content hash) in S3, verified; then records the dataset in DVC (dvc.lock), pushes it to
 * the DVC remote and commits dvc.lock to git. Any failure stops before the next step.
 */
export async function pushData(options: PushOptions = {}): Promise<PushResult> {
  const env = options.env ?? process.env
  const settings = s3Settings(env)
  const client = s3Client(settings)
  const progress = options.onProgress ?? (() => {})
  await ensureBucket(client, settings)

  const rawRoot = join(dataDir(env), 'raw')
  const stored = new Set(await listKeys(client, settings, 'raw/'))
  let uploaded = 0
  let alreadyStored = 0
  for (const file of await listFiles(rawRoot)) {
    const key = `raw/${relative(rawRoot, file)}`
    if (stored.has(key)) {
      alreadyStored++
      continue
    }
    await uploadFile(client, settings, key, file, 'application/json')
    uploaded++
  }
  progress(`raw: ${uploaded} uploaded, ${alreadyStored} already stored`)

  const paths = processedPaths(env)
  const processed: string[] = []
  if (existsSync(paths.dataset)) {
    const {sha256} = JSON.parse(await readFile(paths.summary, 'utf8')) as {sha256: string}
    for (const file of [paths.dataset, paths.summary, paths.observations, paths.observationsMeta]) {
      if (!existsSync(file)) continue
      const key = `processed/${sha256}/${file.split('/').at(-1)}`
      await uploadFile(client, settings, key, file)
      processed.push(key)
    }
    progress(`processed: ${processed.length} file(s) under processed/${sha256.slice(0, 12)}…`)
  }

  let dataVersion: string | null = null
  let gitCommit: string | null = null
  if (options.dvc !== false && existsSync(paths.dataset)) {
    const cwd = workDir()
    await commitAndPushStage(cwd, DATASET_STAGE, env).catch((error: unknown) => {
      throw asTransportError(error)
    })
    dataVersion = (await lockedMd5(cwd, DATASET_STAGE, relative(cwd, paths.dataset))) ?? null
    progress(`dvc: dataset version ${dataVersion}`)
    if (options.gitCommit !== false) {
      gitCommit = (await gitCommitLock(cwd, `data: dataset ${dataVersion ?? 'unknown'} (rps push)`)) ?? null
    }
  }
  return {bucket: settings.bucket, raw: {uploaded, alreadyStored}, processed, dataVersion, gitCommit}
}
