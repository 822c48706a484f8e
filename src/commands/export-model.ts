import {Flags} from '@oclif/core'
import {rename, rm} from 'node:fs/promises'
import {dirname, join, resolve} from 'node:path'

import {RpsCommand} from '../lib/cli/base-command.js'
import {RpsError} from '../lib/errors.js'
import {MlflowClient} from '../lib/mlflow/client.js'
import {REGISTRY_STAMP_FILE, type RegistryStamp, downloadVerified} from '../lib/model/registry.js'
import {modelSection} from '../lib/model/settings.js'
import {writeFileAtomic} from '../lib/util/atomic-file.js'

export interface ExportModelResult {
  registeredModel: string
  version: string
  alias: string | null
  out: string
  dataVersion: string
  /** Whether every file matched the sha256 recorded at registration (false: the version has none). */
  verified: boolean
}

export default class ExportModel extends RpsCommand {
  static summary = 'Download a registered model version into a local model directory (for Docker images).'

  static examples = ['<%= config.bin %> <%= command.id %> --alias champion --out build/model', '<%= config.bin %> <%= command.id %> --version 3 --out /tmp/model']

  static flags = {
    alias: Flags.string({summary: 'Registry alias to export.', default: 'champion'}),
    version: Flags.string({summary: 'Export this version instead of the alias.'}),
    out: Flags.string({summary: 'Destination model directory (replaced atomically).', default: 'build/model'}),
  }

  async run(): Promise<ExportModelResult> {
    const {flags} = await this.parse(ExportModel)
    const params = this.loadParams(flags.params)
    const name = modelSection(params).registered_name
    const client = MlflowClient.fromEnv()
    const version = flags.version ? await client.getModelVersion(name, flags.version) : await client.getVersionByAlias(name, flags.alias)
    if (!version) throw new RpsError(`'${name}' has no @${flags.alias}`, {code: 'NO_ALIAS', suggestions: ['run: rps train && rps promote']})
    const out = resolve(flags.out)
    const staging = join(dirname(out), `.${out.split('/').at(-1)}.export.${process.pid}`)
    await rm(staging, {recursive: true, force: true})
    let exported: Awaited<ReturnType<typeof downloadVerified>>
    try {
      exported = await downloadVerified(client, version, staging)
    } catch (error) {
      // A refused download leaves nothing behind, and `out` keeps whatever it held.
      await rm(staging, {recursive: true, force: true})
      throw error
    }
    const {model, digests} = exported
    const stamp: RegistryStamp = {name, version: version.version, alias: flags.version ? null : flags.alias, ...(digests ? {digests} : {})}
    await writeFileAtomic(join(staging, REGISTRY_STAMP_FILE), JSON.stringify(stamp, null, 2) + '\n')
    await rm(out, {recursive: true, force: true})
    await rename(staging, out)
    this.note(`exported ${name} v${version.version} to ${out}${digests ? ', every file matching its recorded sha256' : '; UNVERIFIED: the version has no recorded artifact digests'}`)
    return {registeredModel: name, version: version.version, alias: flags.version ? null : flags.alias, out, dataVersion: model.meta.dataVersion, verified: digests !== undefined}
  }
}
