import {isAbsolute, relative, resolve} from 'node:path'

import type {Params} from '../config/params.js'
import {ConfigError} from '../errors.js'
import {resolveSource} from '../fetch/fetch-raw.js'
import {workDir} from '../util/project.js'
import {s3Client, s3Settings} from './s3.js'
import {pullLive, pullProcessed, pullRaw, pullReports, readCurrentVersion} from './task-state.js'

/** Where `rps pull --run` puts a run's reports: <dir>/drift/drift.json, <dir>/compare/report.json. */
export const DEFAULT_RUN_DIR = '.rps/run'

export interface PullOptions {
  /** A dataset sha256, or "current". */
  dataVersion?: string
  raw?: boolean
  source?: string
  runKey?: string
  /** Where the run's reports go (default: .rps/run under the work dir); emptied first. */
  into?: string
  live?: boolean
  env?: NodeJS.ProcessEnv
}

export interface PullResult {
  bucket: string
  /** The dataset version restored (sha256), null when none was asked for or none exists yet. */
  dataVersion: string | null
  dvcMd5: string | null
  raw: {downloaded: number; merged: number} | null
  reports: string[]
  live: string[]
}

/** The --into folder: inside the work dir and not the work dir itself, since it is emptied first. */
function runDir(into: string | undefined): string {
  const dir = resolve(workDir(), into ?? DEFAULT_RUN_DIR)
  const rel = relative(workDir(), dir)
  if (!rel || rel.startsWith('..') || isAbsolute(rel)) throw new ConfigError(`--into ${into} must be a folder inside the work directory ${workDir()} (it is emptied first)`)
  return dir
}

/** rps pull: the dataset version first (the raw files to fetch depend on its history), then the rest. */
export async function pullState(params: Params, options: PullOptions): Promise<PullResult> {
  const env = options.env ?? process.env
  if (options.runKey) runDir(options.into)
  if (!options.dataVersion && !options.raw && !options.runKey && !options.live) {
    throw new ConfigError('nothing to pull: pass --data-version, --raw, --run and/or --live')
  }
  const settings = s3Settings(env)
  const client = s3Client(settings)
  let dataVersion: string | null = null
  let dvcMd5: string | null = null
  if (options.dataVersion) {
    const wanted = options.dataVersion === 'current' ? (await readCurrentVersion(client, settings))?.sha256 : options.dataVersion
    if (wanted) {
      const pulled = await pullProcessed(client, settings, wanted, env)
      dataVersion = pulled.sha256
      dvcMd5 = pulled.dvcMd5
    }
  }
  const raw = options.raw ? await pullRaw(client, settings, resolveSource(options.source, params, env), params.location.name, env) : null
  const reports = options.runKey ? await pullReports(client, settings, options.runKey, runDir(options.into)) : []
  const live = options.live ? await pullLive(client, settings, env) : []
  return {bucket: settings.bucket, dataVersion, dvcMd5, raw, reports, live}
}
