import type {S3Client} from '@aws-sdk/client-s3'
import {GetObjectCommand, NoSuchKey, PutObjectCommand} from '@aws-sdk/client-s3'
import {createHash} from 'node:crypto'
import {existsSync} from 'node:fs'
import {mkdir, readFile, readdir, rm, stat} from 'node:fs/promises'
import {basename, dirname, isAbsolute, join, relative, resolve} from 'node:path'

import {DATASET_LOCK, openDataset, processedRoot, stageVersion} from '../features/dataset-store.js'
import {ConfigError, RpsError, TransportError, errorMessage} from '../errors.js'
import {liveErrorsPath} from '../live/live-errors.js'
import {predictionLogPath} from '../live/prediction-log.js'
import {dataDir, rawDir} from '../raw/store.js'
import {isTempName} from '../util/atomic-file.js'
import {withLock} from '../util/lock.js'
import {workDir} from '../util/project.js'
import {type S3Settings, downloadFile, listKeys, uploadFile} from './s3.js'

/**
 * Task state by version in object storage: what lets each Airflow task run on a worker with an
 * empty working directory. A dataset version is its content hash (processed/<sha256>/); the
 * newest versioned one is named by processed/CURRENT.json; a run's reports (drift decision,
 * compare report) live under runs/<run key>/; the live state (prediction log, live errors) under
 * live/.
 */
export const CURRENT_KEY = 'processed/CURRENT.json'
export const LIVE_PREFIX = 'live/'
const SHA256 = /^[0-9a-f]{64}$/
const PROCESSED_FILES = ['observations.parquet', 'observations.json', 'dataset.parquet', 'dataset.json'] as const

/** The record of a versioned dataset: processed/<sha256>/version.json and processed/CURRENT.json. */
export interface DataVersionRecord {
  /** sha256 of dataset.parquet: the S3 key of the version. */
  sha256: string
  /** The md5 DVC recorded for dataset.parquet (its key in the DVC remote). */
  dvcMd5: string | null
  recordedAt: string
}

/** Beside the restored dataset: which version it is and whether DVC has it (read by train's lineage). */
export const VERSION_FILE = 'version.json'

export function isDataVersion(value: string): boolean {
  return SHA256.test(value)
}

/** runs/<key>/ with the key made safe for S3 and file names (Airflow run ids hold ':' and '+'). */
export function runPrefix(runKey: string): string {
  const safe = runKey.trim().replace(/[^A-Za-z0-9._-]+/g, '_')
  if (!safe || /^\.+$/.test(safe) || safe.length > 250) throw new ConfigError(`run key ${JSON.stringify(runKey)} is empty or too long (1-250 characters)`)
  return `runs/${safe}/`
}

async function getJson<T>(client: S3Client, settings: S3Settings, key: string): Promise<T | undefined> {
  try {
    const response = await client.send(new GetObjectCommand({Bucket: settings.bucket, Key: key}))
    return JSON.parse(await response.Body!.transformToString()) as T
  } catch (error) {
    if (error instanceof NoSuchKey || (error as {name?: string}).name === 'NoSuchKey') return undefined
    if (error instanceof SyntaxError) throw new RpsError(`s3://${settings.bucket}/${key} is not valid JSON`, {code: 'STATE_CORRUPT'})
    throw new TransportError(`reading s3://${settings.bucket}/${key} failed: ${errorMessage(error)}`, {code: 'S3_ERROR', cause: error})
  }
}

async function putJson(client: S3Client, settings: S3Settings, key: string, value: unknown): Promise<void> {
  const body = JSON.stringify(value, null, 2) + '\n'
  const md5 = createHash('md5').update(body).digest('base64')
  try {
    await client.send(new PutObjectCommand({Bucket: settings.bucket, Key: key, Body: body, ContentMD5: md5, ContentType: 'application/json'}))
  } catch (error) {
    throw new TransportError(`writing s3://${settings.bucket}/${key} failed: ${errorMessage(error)}`, {code: 'S3_ERROR', cause: error})
  }
}

export async function readCurrentVersion(client: S3Client, settings: S3Settings): Promise<DataVersionRecord | undefined> {
  return getJson<DataVersionRecord>(client, settings, CURRENT_KEY)
}

/**
 * Records a versioned dataset: processed/<sha256>/version.json, then processed/CURRENT.json (one
 * PUT each, atomic in S3), so CURRENT never names a version whose files are not all stored.
 */
export async function recordDataVersion(client: S3Client, settings: S3Settings, record: DataVersionRecord): Promise<void> {
  await putJson(client, settings, `processed/${record.sha256}/${VERSION_FILE}`, record)
  await putJson(client, settings, CURRENT_KEY, record)
}

export interface PulledVersion {
  sha256: string
  dvcMd5: string | null
  files: string[]
}

/**
 * Restores dataset version `sha256` from processed/<sha256>/ as a new published version of
 * data/processed (under the dataset lock, staged then committed like featurize's own): every file
 * is downloaded into the staging dir and dataset.parquet is checked against the version before
 * anything becomes visible.
 */
export async function pullProcessed(client: S3Client, settings: S3Settings, sha256: string, env: NodeJS.ProcessEnv = process.env): Promise<PulledVersion> {
  if (!isDataVersion(sha256)) throw new ConfigError(`data version ${JSON.stringify(sha256)} is not a sha256 (64 hex digits) or "current"`)
  const prefix = `processed/${sha256}/`
  const stored = new Set((await listKeys(client, settings, prefix)).map((k) => k.slice(prefix.length)))
  for (const name of ['dataset.parquet', 'dataset.json']) {
    if (!stored.has(name)) throw new RpsError(`data version ${sha256} is not in s3://${settings.bucket}/${prefix} (no ${name})`, {code: 'DATA_VERSION_MISSING', exitCode: 1})
  }
  const root = processedRoot(env)
  await mkdir(root, {recursive: true})
  return withLock(DATASET_LOCK, {env, command: 'rps pull'}, async () => {
    const staged = await stageVersion(root)
    try {
      for (const name of [...PROCESSED_FILES, VERSION_FILE]) {
        if (stored.has(name)) await downloadFile(client, settings, prefix + name, join(staged.dir, name))
      }
      const got = createHash('sha256').update(await readFile(join(staged.dir, 'dataset.parquet'))).digest('hex')
      if (got !== sha256) throw new RpsError(`s3://${settings.bucket}/${prefix}dataset.parquet hashes to ${got}, not ${sha256}; not restored`, {code: 'DATA_VERSION_CORRUPT'})
      const createdAt = await readFile(join(staged.dir, 'dataset.json'), 'utf8').then((t) => (JSON.parse(t) as {createdAt?: string}).createdAt, () => undefined)
      const set = await staged.commit(createdAt ?? new Date().toISOString())
      const record = existsSync(join(set.dir, VERSION_FILE)) ? (JSON.parse(await readFile(join(set.dir, VERSION_FILE), 'utf8')) as DataVersionRecord) : undefined
      const files = [...PROCESSED_FILES, VERSION_FILE].filter((n) => stored.has(n)).map((n) => relative(workDir(), join(set.dir, n)))
      return {sha256, dvcMd5: record?.dvcMd5 ?? null, files}
    } catch (error) {
      await staged.abort()
      throw error
    }
  })
}

/** The body a raw key belongs to: X.json for X.json, X.meta.json and X.quality.json. */
function bodyName(key: string): string {
  return basename(key).replace(/\.(meta|quality)\.json$/, '.json')
}

/**
 * Downloads the raw files of source/location that are neither local nor merged into the local
 * history yet (observations.json mergedFiles): what check and featurize need after a fetch on
 * another worker, without the whole raw archive.
 */
export async function pullRaw(client: S3Client, settings: S3Settings, source: string, location: string, env: NodeJS.ProcessEnv = process.env): Promise<{downloaded: number; merged: number}> {
  const meta = (await openDataset(processedRoot(env)))?.observationsMeta ?? ''
  const merged = new Set(existsSync(meta) ? ((JSON.parse(await readFile(meta, 'utf8')) as {mergedFiles?: string[]}).mergedFiles ?? []) : [])
  const dir = rawDir(source, location, env)
  const prefix = `raw/${relative(join(dataDir(env), 'raw'), dir)}/`
  let downloaded = 0
  let skipped = 0
  for (const key of await listKeys(client, settings, prefix)) {
    const name = key.slice(prefix.length)
    if (name.includes('/') || isTempName(name)) continue
    if (merged.has(bodyName(name))) {
      skipped++
      continue
    }
    const dest = join(dir, name)
    if (existsSync(dest)) continue
    await downloadFile(client, settings, key, dest)
    downloaded++
  }
  return {downloaded, merged: skipped}
}

/** Every file under dir, recursively, leaving out temp names (writes still in progress). */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, {withFileTypes: true}).catch(() => [])) {
    const full = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...(await listFiles(full)))
    else if (!isTempName(entry.name)) out.push(full)
  }
  return out
}

/**
 * Uploads the given report files or folders (under the work dir, e.g. reports/drift) to
 * runs/<key>/<path>: only what this task produced, never whatever else a reused worker has lying around.
 * A missing report is an error, unless it is one of the `optional` ones (a report its task writes only sometimes).
 */
export async function pushReports(client: S3Client, settings: S3Settings, runKey: string, paths: string[], optional: string[] = []): Promise<string[]> {
  const prefix = runPrefix(runKey)
  const root = workDir()
  const keys: string[] = []
  for (const [path, required] of [...paths.map((p) => [p, true] as const), ...optional.map((p) => [p, false] as const)]) {
    const full = resolve(root, path)
    const rel = relative(root, full)
    if (rel.startsWith('..') || isAbsolute(rel) || rel === '') throw new ConfigError(`report path ${path} is not inside the work directory ${root}`)
    const files = existsSync(full) && (await stat(full)).isDirectory() ? await listFiles(full) : existsSync(full) ? [full] : []
    if (files.length === 0 && !required) continue
    if (files.length === 0) throw new RpsError(`no report at ${path} to store for run ${runKey}`, {code: 'REPORT_MISSING'})
    for (const file of files) {
      const key = prefix + relative(root, file)
      await uploadFile(client, settings, key, file)
      keys.push(key)
    }
  }
  return keys
}

/**
 * Downloads what earlier tasks of run <key> stored (runs/<key>/reports/...) into `intoDir`
 * (emptied first, so nothing of another run is ever read): <intoDir>/drift/drift.json, ...
 */
export async function pullReports(client: S3Client, settings: S3Settings, runKey: string, intoDir: string): Promise<string[]> {
  const prefix = runPrefix(runKey) + 'reports/'
  await rm(intoDir, {recursive: true, force: true})
  const files: string[] = []
  for (const key of await listKeys(client, settings, prefix)) {
    const rel = key.slice(prefix.length)
    if (rel.split('/').some((part) => part === '..' || part === '' || part === '.')) continue
    await downloadFile(client, settings, key, join(intoDir, rel))
    files.push(join(intoDir, rel))
  }
  return files
}

function liveFiles(env: NodeJS.ProcessEnv): {key: string; path: string}[] {
  return [
    {key: `${LIVE_PREFIX}predictions.jsonl`, path: predictionLogPath(env)},
    {key: `${LIVE_PREFIX}live-errors.json`, path: liveErrorsPath(env)},
  ]
}

/** Uploads the prediction log and the live errors (forecast's state) to live/. */
export async function pushLive(client: S3Client, settings: S3Settings, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const keys: string[] = []
  for (const {key, path} of liveFiles(env)) {
    if (!existsSync(path)) continue
    await uploadFile(client, settings, key, path)
    keys.push(key)
  }
  return keys
}

/** Downloads live/ (prediction log, live errors) when stored; a first run has none. */
export async function pullLive(client: S3Client, settings: S3Settings, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const stored = new Set(await listKeys(client, settings, LIVE_PREFIX))
  const files: string[] = []
  for (const {key, path} of liveFiles(env)) {
    if (!stored.has(key)) continue
    await mkdir(dirname(path), {recursive: true})
    await downloadFile(client, settings, key, path)
    files.push(path)
  }
  return files
}
