import {execa} from 'execa'
import {mkdtemp, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parse, stringify} from 'yaml'
import {readFileSync} from 'node:fs'

export const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..')

export interface RunResult {
  exitCode: number
  stdout: string
  stderr: string
  json: any
}

/** Runs the real CLI as a subprocess (the way Airflow and CI run it). */
export async function rps(args: string[], env: Record<string, string> = {}, options: {cwd?: string} = {}): Promise<RunResult> {
  const result = await execa(process.execPath, [join(ROOT, 'bin/run.js'), ...args], {
    env: {...env, CI: 'true', NO_COLOR: '1'},
    cwd: options.cwd ?? ROOT,
    reject: false,
    timeout: 120_000,
  })
  let json: any
  if (args.includes('--json')) {
    try {
      json = JSON.parse(String(result.stdout))
    } catch {
      json = undefined
    }
  }
  return {exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr), json}
}

/** A scratch directory and a params.yaml copy with fast retries (and any overrides). */
export async function scratch(overrides: (params: any) => void = () => {}): Promise<{dir: string; params: string}> {
  const dir = await mkdtemp(join(tmpdir(), 'rps-test-'))
  const params = parse(readFileSync(join(ROOT, 'params.yaml'), 'utf8'))
  params.fetch.retry = {attempts: 4, base_delay_ms: 20, max_delay_ms: 2000}
  params.fetch.timeout_ms = 2000
  overrides(params)
  const path = join(dir, 'params.yaml')
  await writeFile(path, stringify(params))
  return {dir, params: path}
}
