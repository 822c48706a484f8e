import {Flags} from '@oclif/core'
import {join, resolve} from 'node:path'

import {RpsCommand} from '../lib/cli/base-command.js'
import {ConfigError} from '../lib/errors.js'
import {type SimulateResult, runSimulation} from '../lib/simulate/simulate.js'
import {REPLAY_STATIONS} from '../lib/sources/replay-series.js'
import {projectRoot, workDir} from '../lib/util/project.js'

export type SimulateCommandResult = SimulateResult

export default class Simulate extends RpsCommand {
  static summary = 'Replay the recorded year hour by hour and compare retraining policies: static, periodic, drift-triggered.'

  static description = `Builds the replayed year through the replay source (with --shift drift injected), the quality
gate and the feature function, then steps through it hour by hour for every policy at once: the
policy's champion forecasts every horizon each hour, ground truth arrives horizon_hours later, and at
each check (simulate.check_every_hours) a policy may retrain. A retrain fits a challenger on the rows
whose truth has arrived (the same fit as rps train: every horizon's forest and its bands, with
params.yaml model plus simulate.model overrides), judges it against the champion on the same freshest
holdout with rps compare's whole-path gate, and promotes it only if it passes. The drift-triggered
policy decides with the same assessment as rps drift (hysteresis, cooldown, back-off, maximum age).
Policies are scored per horizon (RMSE; coverage of the calibrated bands and of the live adaptive bands
rps serve answers with) beside persistence and seasonal-naive. Writes simulate.json, simulate.md,
simulate.png (rolling RMSE, change points, promotions) and simulate-fan.png (a sample of forecast paths
with their bands) to --out-dir. --station replays another shipped station year (data/replay/). No
services and no wall-clock waiting: MLflow and the registry are not used.`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --shift "temperature_2m:*1.5@2025-06-01T00:00:00Z"',
    '<%= config.bin %> <%= command.id %> --days 120 --policy static --policy drift-triggered --json',
    '<%= config.bin %> <%= command.id %> --station miami-fl --policy periodic-7d --policy drift-triggered',
  ]

  static flags = {
    shift: Flags.string({summary: 'Inject a change into the replay (RPS_REPLAY_SHIFT syntax: variable:+N@ISO or variable:*F@ISO, comma-separated).'}),
    policy: Flags.string({summary: 'Policies to run (default: all): static, periodic-<days>d, drift-triggered.', multiple: true}),
    days: Flags.integer({summary: 'Replay only the first N days of the year.', min: 30, max: 366}),
    'out-dir': Flags.string({summary: 'Folder for simulate.json, simulate.md and the plots (default: reports/simulate).'}),
    station: Flags.string({summary: `Replay this shipped station year instead of $RPS_REPLAY_FILE or the default: ${REPLAY_STATIONS.map((s) => s.id).join(', ')}.`}),
  }

  async run(): Promise<SimulateCommandResult> {
    const {flags} = await this.parse(Simulate)
    const params = this.loadParams(flags.params)
    const outDir = resolve(flags['out-dir'] ?? join(workDir(), 'reports/simulate'))
    const station = flags.station === undefined ? undefined : REPLAY_STATIONS.find((s) => s.id === flags.station)
    if (flags.station !== undefined && !station) throw new ConfigError(`unknown station '${flags.station}'; shipped: ${REPLAY_STATIONS.map((s) => s.id).join(', ')}`)
    const result = await runSimulation(params, {
      shift: flags.shift, policies: flags.policy, days: flags.days, outDir,
      env: station ? {...process.env, RPS_REPLAY_FILE: join(projectRoot(), station.file)} : process.env,
      onProgress: (line) => this.note(`[simulate] ${line}`),
    })
    for (const p of result.policies) this.note(`${p.name.padEnd(16)} mean RMSE ${p.meanRmse.toFixed(3)} (+${p.horizons.at(-1)!.horizon} h ${p.overall.rmse.toFixed(3)})  retrains ${String(p.retrains).padStart(3)}  promotions ${String(p.promotions).padStart(3)}`)
    this.note(`persistence      RMSE ${result.persistence.overall.rmse.toFixed(3)}; ${result.fits} fits in ${result.fitSeconds.toFixed(0)} s; report ${result.report.markdown}`)
    return result
  }
}
