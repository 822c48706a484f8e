import {Flags} from '@oclif/core'

import {RpsCommand} from '../lib/cli/base-command.js'
import {type PromoteResult, promote} from '../lib/model/promote.js'

export type PromoteCommandResult = PromoteResult

export default class Promote extends RpsCommand {
  static summary = 'Move @champion to the challenger (or roll back to @previous-champion).'

  static description = `Sets @previous-champion to the current champion, then moves @champion to @challenger (or
--version) in one alias write, and appends the change to the registered model's promotion log tag
(rps.promotion_log). --rollback restores @previous-champion as champion.`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --reason "drift: PSI 0.31 on temperature_2m"',
    '<%= config.bin %> <%= command.id %> --rollback',
  ]

  static flags = {
    rollback: Flags.boolean({summary: 'Restore @previous-champion as @champion.'}),
    version: Flags.string({summary: 'Promote this version instead of @challenger.', exclusive: ['rollback']}),
    reason: Flags.string({summary: 'Why (recorded in the promotion log).'}),
  }

  async run(): Promise<PromoteCommandResult> {
    const {flags} = await this.parse(Promote)
    const params = this.loadParams(flags.params)
    const r = await promote(params, {rollback: flags.rollback, version: flags.version, reason: flags.reason})
    this.note(`${r.registeredModel}: ${r.action}; @champion = v${r.champion}${r.previousChampion ? `, @previous-champion = v${r.previousChampion}` : ''}`)
    return r
  }
}
