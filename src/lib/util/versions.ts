import {execa} from 'execa'
import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import {dirname, join, relative} from 'node:path'

import {lockedMd5} from '../dvc/dvc.js'
import {projectRoot, workDir} from './project.js'

export function rpsVersion(): string {
  return (JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as {version: string}).version
}

/** The code version: RPS_CODE_VERSION (set in images), else the git commit of the rps checkout. */
export async function codeVersion(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env.RPS_CODE_VERSION) return env.RPS_CODE_VERSION
  const result = await execa('git', ['rev-parse', 'HEAD'], {cwd: projectRoot(), reject: false})
  return result.exitCode === 0 ? String(result.stdout).trim() : `rps-${rpsVersion()}`
}

/**
 * The data version of a dataset file: the md5 DVC recorded in dvc.lock when it matches the file,
 * or in version.json beside it (written by `rps pull` on workers without the dvc.lock that
 * versioned it); else the file's own md5 marked as not (yet) versioned.
 */
export async function dataVersion(datasetPath: string, trackedPath = datasetPath): Promise<{md5: string; versioned: boolean}> {
  const md5 = createHash('md5').update(await readFile(datasetPath)).digest('hex')
  // A published version lives in versions/<id>/; dvc.yaml tracks it at its DVC view path (trackedPath).
  const locked = await lockedMd5(workDir(), 'featurize', relative(workDir(), trackedPath)).catch(() => undefined)
  if (locked === md5) return {md5, versioned: true}
  const pulled = await readFile(join(dirname(datasetPath), 'version.json'), 'utf8').then((t) => (JSON.parse(t) as {dvcMd5?: string}).dvcMd5, () => undefined)
  return {md5, versioned: pulled === md5}
}
