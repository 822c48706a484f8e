/* global process, console */
// Build step of `npm run build` (kept in bin/: every image's build stage copies bin/). Writes
// oclif.manifest.json from dist/: with it oclif imports only the command that runs; without it,
// every command module (and so nodejs-polars, the AWS SDK, vega...) is imported at every start,
// e.g. by `rps serve`, which needs none of them.
import {Config} from '@oclif/core'
import {readdirSync, renameSync, writeFileSync} from 'node:fs'
import {join, dirname} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const config = await Config.load({root, ignoreManifest: true})
const plugin = config.getPluginsList().find((p) => p.root === root) ?? config.getPluginsList()[0]
const manifest = plugin.manifest
if (!manifest || Object.keys(manifest.commands).length === 0) throw new Error('oclif manifest: no commands found (build first)')
// oclif leaves out a command whose module fails to import (e.g. under a Node older than 22): a
// manifest without it would make that command "not found" at run time, so refuse to write one.
const files = readdirSync(join(root, 'dist/src/commands')).filter((f) => f.endsWith('.js')).map((f) => f.slice(0, -3))
const missing = files.filter((id) => !(id in manifest.commands))
if (missing.length > 0) throw new Error(`oclif manifest: command(s) ${missing.join(', ')} failed to load under Node ${process.version} (run DEBUG=* bin/rps ${missing[0]} --help to see why)`)
const tmp = join(root, `.oclif.manifest.json.${process.pid}.tmp`)
writeFileSync(tmp, JSON.stringify(manifest, null, 2) + '\n')
renameSync(tmp, join(root, 'oclif.manifest.json'))
console.error(`oclif.manifest.json: ${Object.keys(manifest.commands).length} commands`)
