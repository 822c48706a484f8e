import {createHash} from 'node:crypto'
import {existsSync} from 'node:fs'
import {mkdir, readFile, readdir, rename} from 'node:fs/promises'
import {basename, dirname, join, relative} from 'node:path'

import {RpsError} from '../errors.js'
import type {RawMeta} from '../sources/types.js'
import {writeFileAtomic} from '../util/atomic-file.js'
import {dataDir, metaPathFor, qualityPathFor} from './store.js'

export type QuarantineCode = 'META_UNREADABLE' | 'BODY_UNREADABLE' | 'NO_CHECKSUM' | 'SHA256_MISMATCH' | 'BODY_NOT_JSON'

export interface QuarantineRecord {
  file: string
  /** Where the body now lies; its meta, quality report and this record lie beside it. */
  movedTo: string
  code: QuarantineCode
  reason: string
  by: string
  quarantinedAt: string
}

export type VerifiedRaw = {ok: true; meta: RawMeta; text: string} | {ok: false; quarantined: QuarantineRecord}

/** data/quarantine mirrors data/raw: <source>/<location>/<file>; files from elsewhere go to external/. */
export function quarantineDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(dataDir(env), 'quarantine')
}

function quarantineTarget(bodyPath: string, env: NodeJS.ProcessEnv): string {
  const rel = relative(join(dataDir(env), 'raw'), dirname(bodyPath))
  const sub = rel.startsWith('..') || rel === '' ? 'external' : rel
  return join(quarantineDir(env), sub, basename(bodyPath))
}

/**
 * Moves a raw body with its meta and quality report out of data/raw into data/quarantine and
 * writes `<file>.reason.json` beside it. Nothing downstream reads data/quarantine.
 */
export async function quarantineRaw(bodyPath: string, code: QuarantineCode, reason: string, by: string, env: NodeJS.ProcessEnv = process.env): Promise<QuarantineRecord> {
  const target = quarantineTarget(bodyPath, env)
  await mkdir(dirname(target), {recursive: true})
  const record: QuarantineRecord = {file: bodyPath, movedTo: target, code, reason, by, quarantinedAt: new Date().toISOString()}
  // The reason first: a crash mid-move leaves a record, never an unexplained file.
  await writeFileAtomic(target.replace(/\.json$/, '.reason.json'), JSON.stringify(record, null, 2) + '\n')
  for (const [from, to] of [[bodyPath, target], [qualityPathFor(bodyPath), qualityPathFor(target)], [metaPathFor(bodyPath), metaPathFor(target)]] as const) {
    if (existsSync(from)) await rename(from, to)
  }
  return record
}

/**
 * Reads a raw body and checks it against the bodySha256 of its meta. A body that cannot be
 * read or does not match is quarantined and reported, never returned; one without a meta
 * (a capture still being written) is refused with RAW_INCOMPLETE and left in place.
 */
export async function readVerifiedRaw(bodyPath: string, by: string, env: NodeJS.ProcessEnv = process.env): Promise<VerifiedRaw> {
  const fail = async (code: QuarantineCode, reason: string): Promise<VerifiedRaw> => ({ok: false, quarantined: await quarantineRaw(bodyPath, code, reason, by, env)})
  // No meta yet is an incomplete capture (fetch writes the meta last), not a damaged one.
  if (!existsSync(metaPathFor(bodyPath))) {
    throw new RpsError(`raw file ${bodyPath} has no readable metadata (${metaPathFor(bodyPath)}); it is incomplete`, {code: 'RAW_INCOMPLETE'})
  }
  let meta: RawMeta
  try {
    meta = JSON.parse(await readFile(metaPathFor(bodyPath), 'utf8')) as RawMeta
  } catch (error) {
    return fail('META_UNREADABLE', `metadata ${metaPathFor(bodyPath)} is unreadable: ${(error as Error).message}`)
  }
  let bytes: Buffer
  try {
    bytes = await readFile(bodyPath)
  } catch (error) {
    return fail('BODY_UNREADABLE', `body is unreadable: ${(error as Error).message}`)
  }
  if (!meta.bodySha256) return fail('NO_CHECKSUM', 'metadata has no bodySha256: the body cannot be verified')
  const sha = createHash('sha256').update(bytes).digest('hex')
  if (sha !== meta.bodySha256) return fail('SHA256_MISMATCH', `body sha256 ${sha} (${bytes.length} bytes) differs from bodySha256 ${meta.bodySha256} recorded at fetch: changed after it was saved`)
  return {ok: true, meta, text: bytes.toString('utf8')}
}

/** How many raw files lie in quarantine for a source/location (all when omitted). */
export async function countQuarantined(env: NodeJS.ProcessEnv = process.env, sub = ''): Promise<number> {
  let n = 0
  const walk = async (dir: string) => {
    for (const entry of await readdir(dir, {withFileTypes: true}).catch(() => [])) {
      if (entry.isDirectory()) await walk(join(dir, entry.name))
      else if (entry.name.endsWith('.reason.json')) n++
    }
  }
  await walk(join(quarantineDir(env), sub))
  return n
}
