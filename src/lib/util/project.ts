import {existsSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

let cached: string | undefined

/** The repo root (holds package.json and schemas/), found from this module's location. */
export function projectRoot(): string {
  if (cached) return cached
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'schemas'))) {
    const parent = dirname(dir)
    if (parent === dir) throw new Error('rps: cannot find the project root (package.json + schemas/)')
    dir = parent
  }
  cached = dir
  return dir
}

/** Where data, reports and models go: RPS_WORKDIR, else the current directory. */
export function workDir(): string {
  return resolve(process.env.RPS_WORKDIR ?? process.cwd())
}
