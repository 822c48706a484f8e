import {execa} from 'execa'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {projectRoot} from './project.js'

export function rpsVersion(): string {
  return (JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as {version: string}).version
}

/** The code version: RPS_CODE_VERSION (set in images), else the git commit of the rps checkout. */
export async function codeVersion(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env.RPS_CODE_VERSION) return env.RPS_CODE_VERSION
  const result = await execa('git', ['rev-parse', 'HEAD'], {cwd: projectRoot(), reject: false})
  return result.exitCode === 0 ? String(result.stdout).trim() : `rps-${rpsVersion()}`
}
