import {execa} from 'execa'
import {mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

/** Flags that keep Debian's Chromium headless, offline and quiet in a sandbox without a network. */
async function baseArgs(): Promise<string[]> {
  const profile = await mkdtemp(join(tmpdir(), 'rps-chromium-'))
  return ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--hide-scrollbars', `--user-data-dir=${profile}`]
}

export async function screenshot(url: string, out: string, size = '1280,2400'): Promise<void> {
  await execa('chromium', [...(await baseArgs()), `--window-size=${size}`, `--screenshot=${out}`, url], {timeout: 60_000})
}

export async function dumpDom(url: string): Promise<string> {
  const result = await execa('chromium', [...(await baseArgs()), '--dump-dom', url], {timeout: 60_000})
  return String(result.stdout)
}
