import {createHash} from 'node:crypto'
import {existsSync} from 'node:fs'
import {readFile, readdir} from 'node:fs/promises'
import {join, relative, sep} from 'node:path'

import {RpsError} from '../errors.js'
import {containedPath} from '../util/contained-path.js'

/** The model-version tag where `rps train` records the sha256 of every file of the model directory (JSON {file: sha256}). */
export const DIGESTS_TAG = 'rps.artifact_digests'

/** {relative path (POSIX): sha256 hex} of every file of a model directory. */
export type ArtifactDigests = Record<string, string>

/** Files that sit beside the model's files but are not part of it (written after registration). */
const NOT_HASHED = new Set(['registry.json'])

/** Every file under `dir` (registry.json excluded), by POSIX relative path, sorted. */
async function modelFiles(dir: string): Promise<string[]> {
  const out: string[] = []
  const walk = async (current: string) => {
    for (const entry of (await readdir(current, {withFileTypes: true})).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const full = join(current, entry.name)
      if (entry.isDirectory()) await walk(full)
      else {
        const name = relative(dir, full).split(sep).join('/')
        if (!NOT_HASHED.has(name)) out.push(name)
      }
    }
  }
  await walk(dir)
  return out
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** The sha256 of every file under `dir` (registry.json excluded), by POSIX relative path, sorted. */
export async function computeDigests(dir: string): Promise<ArtifactDigests> {
  const out: ArtifactDigests = {}
  for (const name of await modelFiles(dir)) out[name] = sha256(await readFile(join(dir, name)))
  return out
}

/** Parses recorded digests (a tag's or registry.json's value); a malformed record is refused, not ignored. */
export function parseDigests(value: unknown, where: string): ArtifactDigests {
  const record = typeof value === 'string' ? safeJson(value) : value
  const ok = typeof record === 'object' && record !== null && !Array.isArray(record) && Object.keys(record).length > 0
    && Object.entries(record).every(([k, v]) => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v) && k.length > 0)
  if (!ok) throw new RpsError(`the artifact digests recorded in ${where} are malformed: the model is refused`, {code: 'MODEL_DIGEST_MISMATCH'})
  return record as ArtifactDigests
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/**
 * Checks the files of `dir` against the recorded digests: every recorded file present with its
 * sha256, and no file that was not recorded. Throws MODEL_DIGEST_MISMATCH naming the first file.
 */
export async function verifyDigests(dir: string, expected: ArtifactDigests): Promise<void> {
  const mismatch = (what: string) => new RpsError(`model in ${dir} does not match its recorded digests: ${what}`, {code: 'MODEL_DIGEST_MISMATCH'})
  for (const [file, sha] of Object.entries(expected)) {
    const path = containedPath(dir, file)
    if (!existsSync(path)) throw mismatch(`${file} is missing`)
    const actual = sha256(await readFile(path))
    if (actual !== sha) throw mismatch(`${file} has sha256 ${actual.slice(0, 12)}…, ${sha.slice(0, 12)}… was recorded`)
  }
  const extra = (await modelFiles(dir)).filter((f) => !Object.hasOwn(expected, f))
  if (extra.length) throw mismatch(`${extra.join(', ')} not recorded`)
}
