import {execa} from 'execa'
import {existsSync} from 'node:fs'
import {copyFile, readFile, rm} from 'node:fs/promises'
import {join} from 'node:path'
import {parse as parseYaml} from 'yaml'

import {RpsError} from '../errors.js'
import {projectRoot} from '../util/project.js'

/** The dvc executable: RPS_DVC, else the project virtualenv's, else `dvc` on PATH. */
export function dvcBinary(env: NodeJS.ProcessEnv = process.env): string {
  if (env.RPS_DVC) return env.RPS_DVC
  const venv = join(env.RPS_VENV ?? join(projectRoot(), '.rps/venv'), 'bin/dvc')
  return existsSync(venv) ? venv : 'dvc'
}

export async function dvc(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const result = await execa(dvcBinary(env), args, {cwd, env, reject: false, all: true})
  if (result.exitCode !== 0) {
    const output = String(result.all ?? '').trim().split('\n').filter((l) => l.trim()).slice(-3).join(' | ')
    throw new RpsError(`dvc ${args.join(' ')} failed (exit ${result.exitCode}): ${output}`, {code: 'DVC_FAILED'})
  }
  return String(result.stdout)
}

interface DvcLock {
  stages?: Record<string, {outs?: {path: string; md5?: string; hash?: string; size?: number}[]}>
}

/** The md5 DVC recorded for an output in dvc.lock: the data version used for lineage. */
export async function lockedMd5(workdir: string, stage: string, path: string): Promise<string | undefined> {
  const lockPath = join(workdir, 'dvc.lock')
  if (!existsSync(lockPath)) return undefined
  const lock = parseYaml(await readFile(lockPath, 'utf8')) as DvcLock
  return lock.stages?.[stage]?.outs?.find((o) => o.path === path)?.md5
}

/**
 * Records the current outputs of `stage` in dvc.lock and pushes them to the default remote.
 * When the push fails, dvc.lock is put back as it was, so the recorded version never points at
 * data the remote does not have.
 */
export async function commitAndPushStage(workdir: string, stage: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const lockPath = join(workdir, 'dvc.lock')
  const backup = join(workdir, '.dvc.lock.before-push')
  const hadLock = existsSync(lockPath)
  if (hadLock) await copyFile(lockPath, backup)
  try {
    await dvc(['commit', '--force', stage], workdir, env)
    await dvc(['push', stage], workdir, env)
  } catch (error) {
    if (hadLock) await copyFile(backup, lockPath)
    else await rm(lockPath, {force: true})
    throw error
  } finally {
    await rm(backup, {force: true})
  }
}

/** Commits dvc.lock (and only it) to git; returns the new commit, or undefined when nothing changed. */
export async function gitCommitLock(workdir: string, message: string): Promise<string | undefined> {
  const inRepo = await execa('git', ['rev-parse', '--is-inside-work-tree'], {cwd: workdir, reject: false})
  if (inRepo.exitCode !== 0) throw new RpsError(`${workdir} is not a git repository; cannot commit dvc.lock`, {code: 'NOT_A_GIT_REPO', suggestions: ['pass --no-git-commit']})
  await execa('git', ['add', 'dvc.lock'], {cwd: workdir})
  const staged = await execa('git', ['diff', '--cached', '--quiet', '--', 'dvc.lock'], {cwd: workdir, reject: false})
  if (staged.exitCode === 0) return undefined
  // Keep the user's identity when git has one; a fresh machine or CI runner gets a neutral one.
  const email = await execa('git', ['config', 'user.email'], {cwd: workdir, reject: false})
  const identity = String(email.stdout).trim() ? [] : ['-c', 'user.name=rps', '-c', 'user.email=rps@localhost']
  await execa('git', [...identity, 'commit', '--no-verify', '-q', '-m', message, '--', 'dvc.lock'], {cwd: workdir})
  return String((await execa('git', ['rev-parse', 'HEAD'], {cwd: workdir})).stdout).trim()
}
