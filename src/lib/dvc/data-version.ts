import {createHash} from 'node:crypto'
import {readFile} from 'node:fs/promises'
import {dirname, join, relative} from 'node:path'

import {workDir} from '../util/project.js'
import {lockedMd5} from './dvc.js'

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
