import {Flags} from '@oclif/core'
import {join, resolve} from 'node:path'

import {RpsCommand} from '../lib/cli/base-command.js'
import {type SimulateResult, runSimulation} from '../lib/simulate/simulate.js'
import {workDir} from '../lib/util/project.js'

export type SimulateCommandResult = SimulateResult

export default class Simulate extends RpsCommand {
  static summary = 'Replay the recorded year hour by hour and compare retraining policies: static, periodic, drift-triggered.'

  static description = `Builds the replayed year through the replay source (with --shift drift injected), the quality
gate and the feature function, then steps through it hour by hour for every policy at once: the
policy's champion forecasts each hour, ground truth arrives horizon_hours later, and at each check
(simulate.check_every_hours) a policy may retrain. A retrain fits a challenger on the rows whose truth has
arrived (the same fit as rps train, with params.yaml model plus simulate.model overrides), scores it
against the champion on the same freshest holdout with rps compare's rule, and promotes it only if it
passes. The drift-triggered policy decides with the same assessment as rps drift (hysteresis, cooldown,
maximum age). Writes simulate.json, simulate.md and simulate.png (rolling RMSE, change points,
promotions) to --out-dir. No services and no wall-clock waiting: MLflow and the registry are not used.`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --shift "temperature_2m:*1.5@2025-06-01T00:00:00Z"',
    '<%= config.bin %> <%= command.id %> --days 120 --policy static --policy drift-triggered --json',
  ]

  static flags = {
    shift: Flags.string({summary: 'Inject a change into the replay (RPS_REPLAY_SHIFT syntax: variable:+N@ISO or variable:*F@ISO, comma-separated).'}),
    policy: Flags.string({summary: 'Policies to run (default: all): static, periodic-<days>d, drift-triggered.', multiple: true}),
    days: Flags.integer({summary: 'Replay only the first N days of the year.', min: 30, max: 366}),
    'out-dir': Flags.string({summary: 'Folder for simulate.json, simulate.md and simulate.png (default: reports/simulate).'}),
  }

  async run(): Promise<SimulateCommandResult> {
    const {flags} = await this.parse(Simulate)
    const params = this.loadParams(flags.params)
    const outDir = resolve(flags['out-dir'] ?? join(workDir(), 'reports/simulate'))
    const result = await runSimulation(params, {
      shift: flags.shift, policies: flags.policy, days: flags.days, outDir,
      onProgress: (line) => this.note(`[simulate] ${line}`),
    })
    for (const p of result.policies) this.note(`${p.name.padEnd(16)} RMSE ${p.overall.rmse.toFixed(3)}  retrains ${String(p.retrains).padStart(3)}  promotions ${String(p.promotions).padStart(3)}`)
    this.note(`persistence      RMSE ${result.persistence.overall.rmse.toFixed(3)}; ${result.fits} fits in ${result.fitSeconds.toFixed(0)} s; report ${result.report.markdown}`)
    return result
  }
}
