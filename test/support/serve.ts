import {type ChildProcess, spawn} from 'node:child_process'
import {join} from 'node:path'

import {killOnExit} from './kill-on-exit.js'
import {ROOT} from './rps.js'

export interface ServeProcess {
  url: string
  child: ChildProcess
  stderr: () => string
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/** Starts the real `rps serve` through bin/rps (the launcher users run) on a free port; resolves when it listens. */
export async function startServe(args: string[], env: Record<string, string> = {}): Promise<ServeProcess> {
  const child = spawn(join(ROOT, 'bin/rps'), ['serve', '--port', '0', ...args], {env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'pipe']})
  let err = ''
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString()
  })
  child.stdout!.resume()
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`rps serve did not start: ${err}`)), 60_000)
    const onData = () => {
      const m = /listening on (http:\/\/\S+)/.exec(err)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    }
    child.stderr!.on('data', onData)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`rps serve exited with ${code}: ${err}`))
    })
  })
  killOnExit(child, 'SIGKILL')
  return {
    url, child, stderr: () => err,
    stop: (signal = 'SIGTERM') => new Promise((resolve) => {
      if (child.exitCode !== null) resolve(child.exitCode)
      child.once('exit', (code) => resolve(code))
      child.kill(signal)
    }),
  }
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{status: number; json: any}> {
  const res = await fetch(url, {method: 'POST', headers: {'content-type': 'application/json', ...headers}, body: typeof body === 'string' ? body : JSON.stringify(body)})
  const text = await res.text()
  let json: any
  try {
    json = JSON.parse(text)
  } catch {
    json = text
  }
  return {status: res.status, json}
}

export async function getJson(url: string): Promise<any> {
  return (await fetch(url)).json()
}
