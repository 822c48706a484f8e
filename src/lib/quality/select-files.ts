import {resolve} from 'node:path'

import type {SourceName} from '../config/params.js'
import {RpsError} from '../errors.js'
import {newestFetchGroup, rawDir} from '../raw/store.js'

/** The files to check: those given, else every body of the newest fetch for source/location. */
export async function selectRawFiles(files: string[], source: SourceName, location: string, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  if (files.length > 0) return files.map((f) => resolve(f))
  const dir = rawDir(source, location, env)
  const group = await newestFetchGroup(dir)
  if (group.length === 0) {
    throw new RpsError(`no raw data in ${dir}`, {code: 'NO_RAW_DATA', suggestions: [`run: rps fetch --source ${source}`]})
  }
  return group
}
