import {createHash, randomBytes} from 'node:crypto'
import {createReadStream, existsSync} from 'node:fs'
import {link, mkdir, open, readFile, readdir, rename, rm, stat} from 'node:fs/promises'
import {join} from 'node:path'

import {RpsError} from '../errors.js'
import {dataDir} from '../raw/store.js'
import {writeFileAtomic} from '../util/atomic-file.js'

/**
 * On-disk layout of data/processed (the processed root):
 *   versions/<id>/{dataset.parquet, dataset.json, observations.parquet, observations.json, manifest.json}
 *       immutable once renamed into place; manifest.json holds every file's sha256/md5/size
 *   CURRENT          {"version": "<id>"}: the one atomic pointer, written last (the commit point)
 *   dataset.parquet, dataset.json, observations.parquet, observations.json
 *       the DVC view: hard links to the current version's files, for dvc.yaml outs only;
 *       readers never use them while CURRENT exists (a crash may leave them behind CURRENT)
 * Readers go through openDataset(), which also accepts a single version directory (e.g. one
 * downloaded from s3://<bucket>/processed/<sha256>/) and the flat layout of older releases.
 */
export const DATASET_FILES = ['dataset.parquet', 'dataset.json', 'observations.parquet', 'observations.json'] as const
export type DatasetFile = (typeof DATASET_FILES)[number]
export const MANIFEST = 'manifest.json'
/** The lock featurize and push (its DVC commit) hold while they read or change data/processed. */
export const DATASET_LOCK = 'dataset'
export const POINTER = 'CURRENT'
const KEEP_VERSIONS = 3

export interface FileDigest {
  sha256: string
  md5: string
  bytes: number
}

export interface DatasetManifest {
  version: string
  createdAt: string
  files: Partial<Record<DatasetFile, FileDigest>>
}

export interface PublishedDataset {
  version: string
  /** The directory holding this version's files. */
  dir: string
  dataset: string
  summary: string
  observations: string
  observationsMeta: string
  manifest: DatasetManifest
}

export function processedRoot(env: NodeJS.ProcessEnv = process.env): string {
  return join(dataDir(env), 'processed')
}

/**
 * Where readers find the dataset: RPS_DATASET_DIR (a processed root, or one version directory,
 * e.g. downloaded from s3://<bucket>/processed/<sha256>/), else the local processed root.
 */
export function datasetLocation(env: NodeJS.ProcessEnv = process.env): string {
  return env.RPS_DATASET_DIR ?? processedRoot(env)
}

/** Paths of the DVC view (what dvc.yaml tracks), not for reading the dataset. */
export function dvcViewPath(root: string, file: DatasetFile): string {
  return join(root, file)
}

export async function digestFile(path: string): Promise<FileDigest> {
  const sha = createHash('sha256')
  const md5 = createHash('md5')
  let bytes = 0
  for await (const chunk of createReadStream(path)) {
    sha.update(chunk as Buffer)
    md5.update(chunk as Buffer)
    bytes += (chunk as Buffer).length
  }
  return {sha256: sha.digest('hex'), md5: md5.digest('hex'), bytes}
}

function withPaths(version: string, dir: string, manifest: DatasetManifest): PublishedDataset {
  return {
    version, dir, manifest,
    dataset: join(dir, 'dataset.parquet'),
    summary: join(dir, 'dataset.json'),
    observations: join(dir, 'observations.parquet'),
    observationsMeta: join(dir, 'observations.json'),
  }
}

async function verify(set: PublishedDataset): Promise<PublishedDataset> {
  const bad: string[] = []
  for (const [name, want] of Object.entries(set.manifest.files)) {
    const got = await digestFile(join(set.dir, name)).catch(() => undefined)
    if (!got || got.sha256 !== want.sha256) bad.push(got ? `${name} (sha256 ${got.sha256.slice(0, 12)}, manifest ${want.sha256.slice(0, 12)})` : `${name} (missing)`)
  }
  if (bad.length) {
    throw new RpsError(`processed dataset ${set.dir} does not match its manifest: ${bad.join(', ')}`, {
      code: 'DATASET_CORRUPT', suggestions: ['run: rps featurize (it publishes a new complete version)'],
    })
  }
  return set
}

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T
}

/** Older releases wrote the four files in place; dataset.json's sha256 tells whether they belong together. */
async function openFlat(dir: string): Promise<PublishedDataset> {
  const files: DatasetManifest['files'] = {}
  for (const name of DATASET_FILES) {
    if (existsSync(join(dir, name))) files[name] = await digestFile(join(dir, name))
  }
  const summary = await readJson<{sha256?: string; createdAt?: string}>(join(dir, 'dataset.json'))
  if (!files['dataset.parquet'] || summary.sha256 !== files['dataset.parquet'].sha256) {
    throw new RpsError(`processed dataset in ${dir} is a mix of two runs: dataset.json names sha256 ${String(summary.sha256).slice(0, 12)}, dataset.parquet is ${files['dataset.parquet']?.sha256.slice(0, 12) ?? 'missing'}`, {
      code: 'DATASET_CORRUPT', suggestions: ['run: rps featurize --force'],
    })
  }
  return withPaths('flat', dir, {version: 'flat', createdAt: summary.createdAt ?? '', files})
}

/**
 * The one reader of the processed dataset. `location` is the processed root (default
 * data/processed: follows CURRENT), or one version directory holding manifest.json. Every file
 * is checked against the manifest, so a caller sees one complete version or an error.
 * Undefined when no dataset was published yet.
 */
export async function openDataset(location: string = datasetLocation()): Promise<PublishedDataset | undefined> {
  const pointer = join(location, POINTER)
  if (existsSync(pointer)) {
    const {version} = await readJson<{version: string}>(pointer)
    const dir = join(location, 'versions', version)
    return verify(withPaths(version, dir, await readJson<DatasetManifest>(join(dir, MANIFEST))))
  }
  if (existsSync(join(location, MANIFEST))) {
    const manifest = await readJson<DatasetManifest>(join(location, MANIFEST))
    return verify(withPaths(manifest.version, location, manifest))
  }
  if (existsSync(join(location, 'dataset.json'))) return openFlat(location)
  return undefined
}

/** openDataset, failing with NO_DATASET when nothing was published. */
export async function requireDataset(location: string = datasetLocation()): Promise<PublishedDataset> {
  const set = await openDataset(location)
  if (!set) throw new RpsError(`no processed dataset in ${location}`, {code: 'NO_DATASET', suggestions: ['run: rps fetch && rps check && rps featurize']})
  return set
}

export async function readSummary<T>(set: PublishedDataset): Promise<T> {
  return readJson<T>(set.summary)
}

/** `2026-05-10T00-00-00-000Z-<sha256 prefix>`: sorts by creation time, names the content. */
export function versionId(createdAt: string, datasetSha256: string): string {
  return `${createdAt.replace(/[:.]/g, '-')}-${datasetSha256.slice(0, 12)}`
}

/** A version being written: files go into `dir`, nothing is visible until commit(). */
export interface StagedVersion {
  dir: string
  path(file: DatasetFile): string
  commit(createdAt: string): Promise<PublishedDataset>
  abort(): Promise<void>
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/**
 * Starts a new version under `root`. The caller must hold the dataset lock (featurize does).
 * commit(): writes manifest.json, renames the staging dir into versions/, then flips CURRENT.
 */
export async function stageVersion(root: string): Promise<StagedVersion> {
  const versions = join(root, 'versions')
  const dir = join(versions, `.staging-${process.pid}-${randomBytes(4).toString('hex')}`)
  await mkdir(dir, {recursive: true})
  return {
    dir,
    path: (file) => join(dir, file),
    async abort() {
      await rm(dir, {recursive: true, force: true})
    },
    async commit(createdAt) {
      const files: DatasetManifest['files'] = {}
      for (const name of DATASET_FILES) {
        const path = join(dir, name)
        if (!existsSync(path)) continue
        await fsyncPath(path)
        files[name] = await digestFile(path)
      }
      const version = versionId(createdAt, files['dataset.parquet']?.sha256 ?? 'empty')
      await writeFileAtomic(join(dir, MANIFEST), JSON.stringify({version, createdAt, files} satisfies DatasetManifest, null, 2) + '\n')
      const final = join(versions, version)
      await rm(final, {recursive: true, force: true})
      await rename(dir, final)
      await fsyncPath(versions)
      await writeFileAtomic(join(root, POINTER), JSON.stringify({version}) + '\n')
      const published = withPaths(version, final, {version, createdAt, files})
      await syncDvcView(root, published)
      await pruneVersions(root, version)
      return published
    },
  }
}

/**
 * Points the DVC view (flat files in root) at `set`: each file is replaced atomically by a hard
 * link to the version's file. Idempotent; featurize and push call it under the dataset lock.
 */
export async function syncDvcView(root: string, set: PublishedDataset): Promise<void> {
  for (const name of DATASET_FILES) {
    const want = set.manifest.files[name]
    const view = dvcViewPath(root, name)
    if (!want) {
      await rm(view, {force: true})
      continue
    }
    const [a, b] = await Promise.all([stat(view).catch(() => undefined), stat(join(set.dir, name))])
    if (a && a.ino === b.ino && a.dev === b.dev) continue
    if (a && a.size === want.bytes && (await digestFile(view)).sha256 === want.sha256) continue
    const tmp = join(root, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
    await link(join(set.dir, name), tmp)
    await rename(tmp, view)
  }
}

/** Removes crashed staging dirs and all but the newest KEEP_VERSIONS versions (never `keep`). */
export async function pruneVersions(root: string, keep: string): Promise<void> {
  const versions = join(root, 'versions')
  const names = (await readdir(versions).catch(() => [] as string[])).sort()
  for (const name of names.filter((n) => n.startsWith('.staging-'))) {
    if (!name.startsWith(`.staging-${process.pid}-`)) await rm(join(versions, name), {recursive: true, force: true})
  }
  const complete = names.filter((n) => !n.startsWith('.') && n !== keep)
  for (const name of complete.slice(0, Math.max(0, complete.length - (KEEP_VERSIONS - 1)))) {
    await rm(join(versions, name), {recursive: true, force: true})
  }
}
