import {existsSync} from 'node:fs'
import {mkdir} from 'node:fs/promises'
import {join, relative} from 'node:path'

import {commitAndPushStage, gitCommitLock, lockedMd5} from '../dvc/dvc.js'
import {RpsError, TransportError} from '../errors.js'
import {DATASET_FILES, DATASET_LOCK, MANIFEST, dvcViewPath, openDataset, processedRoot, syncDvcView} from '../features/dataset-store.js'
import {dataDir, metaPathFor} from '../raw/store.js'
import {type QuarantineRecord, readVerifiedRaw} from '../raw/verify.js'
import {withLock} from '../util/lock.js'
import {workDir} from '../util/project.js'
import {ensureBucket, listKeys, s3Client, s3Settings, uploadFile} from './s3.js'
import {listFiles, pushLive, pushReports, recordDataVersion} from './task-state.js'

export const DATASET_STAGE = 'featurize'

export interface PushOptions {
  env?: NodeJS.ProcessEnv
  /** Skip DVC (object storage only). */
  dvc?: boolean
  /** Commit dvc.lock to git after a successful push. */
  gitCommit?: boolean
  /** Store raw files only (no processed dataset, no DVC): what fetch and check hand on. */
  rawOnly?: boolean
  /** Also store `reports` under runs/<key>/ (the run's drift decision, compare report, ...). */
  runKey?: string
  /** Report files or folders to store with runKey (default: reports, unless optionalReports are given). */
  reports?: string[]
  /** Reports to store with runKey only when they exist. */
  optionalReports?: string[]
  /** Also store the prediction log and live errors under live/. */
  live?: boolean
  /** Store nothing but the reports and/or live state asked for. */
  stateOnly?: boolean
  onProgress?: (line: string) => void
}

export interface PushResult {
  bucket: string
  raw: {uploaded: number; alreadyStored: number; quarantined: number}
  /** Raw bodies that no longer matched their bodySha256: moved to data/quarantine, not uploaded. */
  quarantined: QuarantineRecord[]
  processed: string[]
  /** sha256 of the processed dataset (its key processed/<sha256>/), when it was stored. */
  datasetSha256: string | null
  /** The dataset's DVC md5, when DVC versioned it. */
  dataVersion: string | null
  gitCommit: string | null
  reports: string[]
  live: string[]
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
  const optional = options.optionalReports ?? []
  const required = options.reports?.length || optional.length ? options.reports ?? [] : ['reports']
  const reports = options.runKey ? await pushReports(client, settings, options.runKey, required, optional) : []
  const live = options.live ? await pushLive(client, settings, env) : []
  if (reports.length + live.length > 0) progress(`state: ${reports.length} report file(s), ${live.length} live file(s)`)
  const empty = {bucket: settings.bucket, raw: {uploaded: 0, alreadyStored: 0, quarantined: 0}, quarantined: [], processed: [], datasetSha256: null, dataVersion: null, gitCommit: null, reports, live}
  if (options.stateOnly) return empty

  const rawRoot = join(dataDir(env), 'raw')
  const stored = new Set(await listKeys(client, settings, 'raw/'))
  // Only bodies that still match the bodySha256 recorded at fetch are stored.
  const quarantined: QuarantineRecord[] = []
  for (const file of await listFiles(rawRoot)) {
    if (/\.(meta|quality|reason)\.json$/.test(file) || !existsSync(metaPathFor(file)) || stored.has(`raw/${relative(rawRoot, file)}`)) continue
    const verified = await readVerifiedRaw(file, 'push', env)
    if (!verified.ok) quarantined.push(verified.quarantined)
  }
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
  progress(`raw: ${uploaded} uploaded, ${alreadyStored} already stored${quarantined.length ? `, ${quarantined.length} quarantined` : ''}`)
  const raw = {uploaded, alreadyStored, quarantined: quarantined.length}
  if (options.rawOnly) return {...empty, raw, quarantined}

  // One published version, read and recorded under the dataset lock: featurize cannot swap it
  // between the upload (keyed by its sha256) and the DVC commit.
  const root = processedRoot(env)
  const processed: string[] = []
  let datasetSha256: string | null = null
  let dataVersion: string | null = null
  let gitCommit: string | null = null
  await withLock(DATASET_LOCK, {env, command: 'rps push', onWait: (h) => progress(`waiting for the dataset lock held by ${h.command} (pid ${h.pid})`)}, async () => {
    const set = await openDataset(root)
    if (!set) return
    const digest = set.manifest.files['dataset.parquet']!
    datasetSha256 = digest.sha256
    for (const name of [...DATASET_FILES, MANIFEST]) {
      const file = join(set.dir, name)
      if (!existsSync(file)) continue
      const key = `processed/${digest.sha256}/${name}`
      await uploadFile(client, settings, key, file)
      processed.push(key)
    }
    progress(`processed: ${processed.length} file(s) under processed/${digest.sha256.slice(0, 12)}…`)
    if (options.dvc === false) return
    if (set.version !== 'flat') await syncDvcView(root, set)
    const cwd = workDir()
    // A worker that restored only the dataset version (rps pull) has no raw files: DVC refuses a
    // stage whose dependency is missing. The outputs' md5 is the data version; the deps' hashes in
    // that worker's scratch dvc.lock are not recorded anywhere.
    await mkdir(rawRoot, {recursive: true})
    await commitAndPushStage(cwd, DATASET_STAGE, env).catch((error: unknown) => {
      throw asTransportError(error)
    })
    dataVersion = (await lockedMd5(cwd, DATASET_STAGE, relative(cwd, dvcViewPath(root, 'dataset.parquet')))) ?? null
    if (dataVersion !== digest.md5) {
      throw new RpsError(`dvc recorded dataset md5 ${dataVersion} but the published version ${set.version} has md5 ${digest.md5}`, {code: 'DVC_MISMATCH'})
    }
    progress(`dvc: dataset version ${dataVersion}`)
    // The version by name in S3 for workers that share nothing else (rps pull --data-version current).
    await recordDataVersion(client, settings, {sha256: digest.sha256, dvcMd5: dataVersion, recordedAt: new Date().toISOString()})
    if (options.gitCommit !== false) {
      gitCommit = (await gitCommitLock(cwd, `data: dataset ${dataVersion} (rps push)`)) ?? null
    }
  })
  return {...empty, raw, quarantined, processed, datasetSha256, dataVersion, gitCommit}
}
