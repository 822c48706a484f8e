import {Flags} from '@oclif/core'
import {join, resolve} from 'node:path'

import {RpsCommand} from '../lib/cli/base-command.js'
import {runSteps} from '../lib/cli/progress.js'
import {renderProfileHtml} from '../lib/profile/html.js'
import {buildProfile} from '../lib/profile/profile.js'
import {writeFileAtomic} from '../lib/util/atomic-file.js'
import {workDir} from '../lib/util/project.js'

export interface ProfileCommandResult {
  html: string
  json: string
  rows: number
  columns: number
}

export default class Profile extends RpsCommand {
  static summary = 'Write the data profile of the processed dataset: reports/profile.html and profile.json.'

  static description = `Per column: type, count, missing %, distinct, min/max/mean/std/quantiles and a histogram;
correlations of every feature with the label and the future target; time coverage with gaps; the latest
quality gate report. The HTML is self-contained (inline CSS and SVG charts, no scripts).`

  static examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --out-dir build/reports --json']

  static flags = {
    'out-dir': Flags.string({summary: 'Folder for profile.html and profile.json (default: ./reports).'}),
  }

  async run(): Promise<ProfileCommandResult> {
    const {flags} = await this.parse(Profile)
    const outDir = resolve(flags['out-dir'] ?? join(workDir(), 'reports'))
    const ctx: Partial<ProfileCommandResult> = {}
    await runSteps([{
      title: 'Profiling the dataset',
      run: async (c) => {
        const profile = await buildProfile()
        c.html = join(outDir, 'profile.html')
        c.json = join(outDir, 'profile.json')
        await writeFileAtomic(c.json, JSON.stringify(profile, null, 2) + '\n')
        await writeFileAtomic(c.html, await renderProfileHtml(profile))
        c.rows = profile.dataset.rows
        c.columns = profile.dataset.columns
      },
    }], ctx, {quiet: this.jsonEnabled()})
    this.note(`profile: ${ctx.html}`)
    return ctx as ProfileCommandResult
  }
}
