import {Flags} from '@oclif/core'
import {join, resolve} from 'node:path'

import {RpsCommand} from '../lib/cli/base-command.js'
import {type DriftCheckResult, checkDrift} from '../lib/drift/check.js'
import {workDir} from '../lib/util/project.js'

export const DRIFT_EXIT_CODE = 20
/** Data drift found (PSI over the window) while no retrain is due. */
export const DATA_DRIFT_EXIT_CODE = 21
/** --gate: no retrain due. Airflow's BashOperator marks the task skipped on it (and so train, compare, promote). */
export const GATE_SKIP_EXIT_CODE = 99

export type DriftCommandResult = DriftCheckResult

export default class Drift extends RpsCommand {
  static summary = 'Check the champion for data and concept drift; exit 20 when a retrain is due, 21 on data drift alone (--gate: 0 / 99).'

  static description = `Examines the newest drift.window_hours rows that have ground truth, with the model's own feature
configuration: PSI of each variable against the training deciles stored with the model (data drift),
chunk MAE against the validation MAE and a Page-Hinkley test on the normalized errors (concept drift).
A retrain is due when k of the last n chunks are flagged, outside the cooldown (counted from the newest
training, a losing @challenger's included), or when the model is older than drift.max_model_age_days
(measured on the data clock); window PSI alone only with drift.data_drift_retrain. Without a @champion a
retrain is due (trigger first_model); --force makes it due whatever the check finds (trigger forced, or
alert when --triggered-by starts with "alert:").

Writes reports/drift/drift.json (the assessment and the decision: retrain, trigger, a one-line reason with
the values) and drift.html, logs them and the numbers to MLflow (when MLFLOW_TRACKING_URI is set).
Exit 20: a retrain is due; 21: data drift found but no retrain due; 0: neither. With --gate (the Airflow
DAG's branch): exit 0 when a retrain is due, 99 when not.`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --model-dir build/model --json',
    '<%= config.bin %> <%= command.id %> --gate --triggered-by schedule   # Airflow: exit 99 skips train/compare/promote',
    '<%= config.bin %> <%= command.id %> --gate --force --triggered-by alert:RpsLiveErrorHigh',
  ]

  static flags = {
    'model-dir': Flags.string({summary: 'Examine this model directory instead of @champion.'}),
    'out-dir': Flags.string({summary: 'Folder for drift.json and drift.html (default: reports/drift).'}),
    'drift-exit-code': Flags.integer({summary: 'Exit code when a retrain is due (without --gate).', default: DRIFT_EXIT_CODE, min: 1, max: 255}),
    gate: Flags.boolean({summary: `Exit 0 when a retrain is due, ${GATE_SKIP_EXIT_CODE} when not (no exit 20/21).`}),
    force: Flags.boolean({summary: 'A retrain is due whatever the check finds (trigger forced, or alert with --triggered-by alert:<name>).'}),
    'triggered-by': Flags.string({summary: 'Who asked for this check, recorded with the decision: schedule, manual, alert:<name>, ...', default: 'manual'}),
  }

  async run(): Promise<DriftCommandResult> {
    const {flags} = await this.parse(Drift)
    const params = this.loadParams(flags.params)
    const outDir = resolve(flags['out-dir'] ?? join(workDir(), 'reports/drift'))
    const r = await checkDrift(params, {modelDir: flags['model-dir'], outDir, force: flags.force, triggeredBy: flags['triggered-by']})
    const {decision} = r
    this.note(`${decision.retrain ? `RETRAIN (${decision.trigger})` : 'no retrain'}: ${decision.reason}; data drift ${r.dataDrift}, concept drift ${r.conceptDrift}; report ${r.report.html}`)
    if (flags.gate) process.exitCode = decision.retrain ? 0 : GATE_SKIP_EXIT_CODE
    else if (decision.retrain) process.exitCode = flags['drift-exit-code']
    else if (r.dataDrift) process.exitCode = DATA_DRIFT_EXIT_CODE
    return r
  }
}
