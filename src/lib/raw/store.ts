import {createHash} from 'node:crypto'
import {readFile, readdir} from 'node:fs/promises'
import {join, resolve} from 'node:path'

import {RpsError} from '../errors.js'
import type {RawCapture, RawMeta} from '../sources/types.js'
import {isTempName, removeStaleTempFiles, writeFileAtomic} from '../util/atomic-file.js'
import {workDir} from '../util/project.js'

/** Where data lives: RPS_DATA_DIR, else ./data. */
export function dataDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.RPS_DATA_DIR ?? join(workDir(), 'data'))
}

export function rawDir(source: string, location: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(dataDir(env), 'raw', source, location)
}

/** `2026-11-26T22-40-00.123Z`: sortable, no colons (safe for S3 keys, DVC and every OS). */
export function fileStamp(iso: string): string {
  return iso.replace(/:/g, '-')
}

export interface SavedRaw {
  /** The body exactly as received. */
  bodyPath: string
  /** Its metadata; written last, so its presence marks a complete capture. */
  metaPath: string
  meta: RawMeta
}

export function metaPathFor(bodyPath: string): string {
  return bodyPath.replace(/\.json$/, '.meta.json')
}

export function qualityPathFor(bodyPath: string): string {
  return bodyPath.replace(/\.json$/, '.quality.json')
}

/**
 * Saves each capture as `<stamp>-<kind>.json` (the body as received) and then
 * `<stamp>-<kind>.meta.json`. Both writes are atomic; readers only trust bodies with a meta.
 */
export async function saveCaptures(captures: RawCapture[], env: NodeJS.ProcessEnv = process.env): Promise<SavedRaw[]> {
  const saved: SavedRaw[] = []
  for (const capture of captures) {
    const dir = rawDir(capture.meta.source, capture.meta.location.name, env)
    await removeStaleTempFiles(dir)
    const bodyPath = join(dir, `${fileStamp(capture.meta.collectedAt)}-${capture.meta.kind}.json`)
    const meta: RawMeta = {...capture.meta, bodySha256: createHash('sha256').update(capture.body).digest('hex')}
    await writeFileAtomic(bodyPath, capture.body)
    const metaPath = metaPathFor(bodyPath)
    await writeFileAtomic(metaPath, JSON.stringify(meta, null, 2) + '\n')
    saved.push({bodyPath, metaPath, meta})
  }
  return saved
}

export async function readMeta(bodyPath: string): Promise<RawMeta> {
  try {
    return JSON.parse(await readFile(metaPathFor(bodyPath), 'utf8')) as RawMeta
  } catch {
    throw new RpsError(`raw file ${bodyPath} has no readable metadata (${metaPathFor(bodyPath)}); it is incomplete`, {code: 'RAW_INCOMPLETE'})
  }
}

/** Complete raw bodies in a folder, oldest first (names sort by collection time). */
export async function listRawBodies(dir: string): Promise<string[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return []
  }
  const set = new Set(names)
  return names
    .filter((n) => n.endsWith('.json') && !isTempName(n) && !/\.(meta|quality)\.json$/.test(n))
    .filter((n) => set.has(n.replace(/\.json$/, '.meta.json')))
    .sort()
    .map((n) => join(dir, n))
}

/** The bodies of the newest fetch (they share its stamp), e.g. an archive and a forecast. */
export async function newestFetchGroup(dir: string): Promise<string[]> {
  const bodies = await listRawBodies(dir)
  const last = bodies.at(-1)
  if (!last) return []
  const stamp = stampOf(last)
  return bodies.filter((b) => stampOf(b) === stamp)
}

function stampOf(bodyPath: string): string {
  const name = bodyPath.split('/').at(-1) ?? ''
  return name.slice(0, name.lastIndexOf('-'))
}
