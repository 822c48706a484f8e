import {randomBytes} from 'node:crypto'
import {mkdir, open, readdir, rename, rm, stat} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'

const TMP_SUFFIX = '.tmp'
const CHUNK_BYTES = 1 << 20

/** Temp files live beside their target, start with a dot and end in `.tmp`: readers skip them. */
export function isTempName(name: string): boolean {
  return name.startsWith('.') && name.endsWith(TMP_SUFFIX)
}

/**
 * Writes `data` to `path` so that readers see either the old file or the whole new one:
 * write a temp file in the same directory, fsync it, rename it over the target, fsync the dir.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const dir = dirname(path)
  await mkdir(dir, {recursive: true})
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}${TMP_SUFFIX}`)
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
  const handle = await open(tmp, 'w', 0o644)
  try {
    for (let offset = 0; offset < bytes.length; offset += CHUNK_BYTES) {
      await handle.write(bytes, offset, Math.min(CHUNK_BYTES, bytes.length - offset))
    }
    await handle.sync()
  } catch (error) {
    await handle.close()
    await rm(tmp, {force: true})
    throw error
  }
  await handle.close()
  await rename(tmp, path)
  await syncDir(dir)
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Removes temp files older than `maxAgeMs` that a killed writer left behind. */
export async function removeStaleTempFiles(dir: string, maxAgeMs = 60_000): Promise<string[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return []
  }
  const removed: string[] = []
  const now = Date.now()
  for (const name of names.filter(isTempName)) {
    const full = join(dir, name)
    const info = await stat(full).catch(() => undefined)
    if (info && now - info.mtimeMs > maxAgeMs) {
      await rm(full, {force: true})
      removed.push(full)
    }
  }
  return removed
}
