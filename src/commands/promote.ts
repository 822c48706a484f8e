import {Flags} from '@oclif/core'
import {join} from 'node:path'

import {RpsCommand} from '../lib/cli/base-command.js'
import {type PromoteResult, promote} from '../lib/model/promote.js'
import {describeHolder, withLock} from '../lib/util/lock.js'
import {workDir} from '../lib/util/project.js'

export type PromoteCommandResult = PromoteResult

export default class Promote extends RpsCommand {
  static summary = 'Move @champion to the challenger (or roll back to @previous-champion), recording why.'

  static description = `The gate: promotes only a challenger whose comparison report (--compare-report, default
reports/compare/report.json) scored exactly this version against exactly the registry's current
@champion and passed; otherwise exit 10 with the numbers (no champion yet: the first model passes).
--force --reason "why" overrides it, recorded as trigger forced.
Sets @previous-champion to the current champion, then moves @champion to @challenger (or
--version) in one alias write. Before that, the promoted version gets the tags rps.promoted_at,
rps.promotion_trigger (first_model, concept_drift, data_drift, max_age, forced, alert, manual) and
rps.promotion_reason; the change is appended to the registered model's promotion log tag
(rps.promotion_log). The trigger and reason come from --reason-file (drift.json of rps drift, when it
decided a retrain), else from --reason (trigger manual), else "challenger won the comparison" (manual);
the RMSEs of --compare-report join the reason when that report scored the promoted version.
--from-alias pr-42 promotes the version behind that alias (a pull request's candidate, merged), gated
by the comparison rps compare --challenger pr-42 recorded on that version (or --compare-report); once
through, @challenger points at it too.
--rollback restores @previous-champion as champion; the demoted version becomes @previous-champion, and
@challenger, when it pointed at the demoted version (or was unset), points at the restored champion.`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --reason-file reports/drift/drift.json   # the Airflow DAG',
    '<%= config.bin %> <%= command.id %> --reason "hand-picked after the storm week"',
    '<%= config.bin %> <%= command.id %> --force --reason "storm week: the champion is known broken"',
    '<%= config.bin %> <%= command.id %> --from-alias pr-42 --reason "pull request #42 merged into test"',
    '<%= config.bin %> <%= command.id %> --rollback',
  ]

  static flags = {
    rollback: Flags.boolean({summary: 'Restore @previous-champion as @champion.'}),
    version: Flags.string({summary: 'Promote this version instead of @challenger.', exclusive: ['rollback', 'from-alias']}),
    'from-alias': Flags.string({summary: 'Promote the version behind this alias (a pull request\'s candidate, e.g. pr-42); the gate reads the comparison recorded on it unless --compare-report is given.', exclusive: ['rollback', 'version']}),
    force: Flags.boolean({summary: 'Promote even when the compare gate refuses (needs --reason; trigger forced).', dependsOn: ['reason'], exclusive: ['rollback']}),
    reason: Flags.string({summary: 'Why (recorded in the promotion log and the version tags; trigger manual).', exclusive: ['reason-file']}),
    'reason-file': Flags.string({summary: 'drift.json of rps drift: its trigger and reason are recorded (a missing file: manual).', exclusive: ['rollback']}),
    'compare-report': Flags.string({summary: 'report.json of rps compare: the gate reads it and its RMSEs join the reason (default: reports/compare/report.json).'}),
  }

  async run(): Promise<PromoteCommandResult> {
    const {flags} = await this.parse(Promote)
    const params = this.loadParams(flags.params)
    // One alias change at a time: concurrent promotes (DAG + a person) queue on the promote lock.
    const r = await withLock('promote', {command: 'rps promote', onWait: (h) => this.note(`waiting for the promote lock held by ${describeHolder(h)}`)}, () => promote(params, {
      rollback: flags.rollback, version: flags.version, reason: flags.reason, force: flags.force, reasonFile: flags['reason-file'],
      fromAlias: flags['from-alias'],
      // --from-alias without --compare-report: the comparison rps compare recorded on that version.
      compareReport: flags['compare-report'] ?? (flags['from-alias'] === undefined ? join(workDir(), 'reports/compare/report.json') : undefined),
    }))
    this.note(`${r.registeredModel}: ${r.action}; @champion = v${r.champion}${r.previousChampion ? `, @previous-champion = v${r.previousChampion}` : ''}${r.trigger ? `; trigger ${r.trigger}: ${r.reason}` : ''}`)
    return r
  }
}
