import {Flags} from '@oclif/core'
import {join, resolve} from 'node:path'

import {RpsCommand} from '../lib/cli/base-command.js'
import {runSteps} from '../lib/cli/progress.js'
import {type CompareResult, compareModels} from '../lib/model/compare.js'
import {workDir} from '../lib/util/project.js'

export type CompareCommandResult = CompareResult

export default class Compare extends RpsCommand {
  static summary = 'Score @challenger and @champion on the same freshest holdout; exit non-zero when the challenger is worse.'

  static description = `Downloads both models from the registry, rebuilds each one's features from the same
observation history, scores them and the naive baselines on identical rows (the most recent
model.holdout_days), and writes report.md (metrics table, deltas, plots) and report.json. The report is
written first; then the exit code: 0 when the challenger wins (or there is no champion yet), 10 (or
--lose-exit-code) when its RMSE exceeds the champion's by more than compare.tolerance_rmse.
--challenger scores the version behind another alias (a pull request's candidate, e.g. pr-42) instead
of @challenger; --champion-dir compares against a model directory written by rps export-model (e.g.
production's champion, exported with read-only credentials) instead of the registry's @champion. The
verdict is also recorded on the scored version (tag rps.compare_report), where rps promote
--from-alias finds it (not with --champion-dir: that champion is not the registry's); nothing else in
the registry is written.`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --out-dir reports/compare --json',
    '<%= config.bin %> <%= command.id %> --lose-exit-code 99   # Airflow: skip promote instead of failing',
    '<%= config.bin %> <%= command.id %> --challenger pr-42   # CI: the pull request\'s candidate against production\'s @champion',
    '<%= config.bin %> <%= command.id %> --challenger pr-42 --champion-dir build/champion   # against an exported champion',
  ]

  static flags = {
    'out-dir': Flags.string({summary: 'Folder for report.md, report.json and the plots (default: reports/compare).'}),
    tolerance: Flags.string({summary: 'Allowed RMSE increase in °C (default: params.yaml compare.tolerance_rmse).'}),
    'lose-exit-code': Flags.integer({summary: 'Exit code when the challenger loses.', default: 10, min: 1, max: 255}),
    challenger: Flags.string({summary: 'Alias of the version to score against @champion (e.g. pr-42).', default: 'challenger'}),
    'champion-dir': Flags.string({summary: 'Compare against this model directory (rps export-model --out) instead of the registry\'s @champion.'}),
  }

  async run(): Promise<CompareCommandResult> {
    const {flags} = await this.parse(Compare)
    const params = this.loadParams(flags.params)
    const outDir = resolve(flags['out-dir'] ?? join(workDir(), 'reports/compare'))
    const tolerance = flags.tolerance === undefined ? undefined : Number(flags.tolerance)
    if (tolerance !== undefined && !(tolerance >= 0)) this.error('--tolerance must be a number >= 0', {exit: 2})
    const ctx: {result?: CompareResult} = {}
    await runSteps([{title: 'Comparing challenger and champion', run: async (c) => {
      c.result = await compareModels(params, {outDir, toleranceRmse: tolerance, challengerAlias: flags.challenger, championDir: flags['champion-dir'] === undefined ? undefined : resolve(flags['champion-dir'])})
    }}], ctx, {quiet: this.jsonEnabled()})
    const r = ctx.result!
    this.note(`${r.decision}: challenger v${r.challenger.version}${r.challenger.alias === 'challenger' ? '' : ` (@${r.challenger.alias})`} RMSE ${r.challenger.scores.rmse.toFixed(3)}${r.champion ? ` vs champion v${r.champion.version} ${r.champion.scores.rmse.toFixed(3)}` : ''} on ${r.holdout.rows} rows; report ${r.report.markdown}`)
    if (!r.passed) process.exitCode = flags['lose-exit-code']
    return r
  }
}
