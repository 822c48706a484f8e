import {Flags} from '@oclif/core'
import {join, resolve} from 'node:path'

import {RpsCommand} from '../lib/cli/base-command.js'
import {type DriftReport, detectDrift, driftSettings} from '../lib/drift/detect.js'
import {logDriftRun} from '../lib/drift/mlflow-log.js'
import {driftHtml} from '../lib/drift/report.js'
import {MlflowClient} from '../lib/mlflow/client.js'
import {loadModelDir} from '../lib/model/model-dir.js'
import {ALIASES, loadAlias} from '../lib/model/registry.js'
import {modelSection} from '../lib/model/settings.js'
import {writeFileAtomic} from '../lib/util/atomic-file.js'
import {workDir} from '../lib/util/project.js'

export const DRIFT_EXIT_CODE = 20
/** Data drift found (PSI over the window) while no retrain is due. */
export const DATA_DRIFT_EXIT_CODE = 21

export interface DriftCommandResult extends DriftReport {
  report: {json: string; html: string}
  mlflowRunId: string | null
}

export default class Drift extends RpsCommand {
  static summary = 'Check the champion for data and concept drift; exit 20 when a retrain is due, 21 on data drift alone.'

  static description = `Examines the newest drift.window_hours rows that have ground truth, with the model's own feature
configuration: PSI of each variable against the training deciles stored with the model (data drift),
chunk MAE against the validation MAE and a Page-Hinkley test on the normalized errors (concept drift).
A retrain is due when k of the last n chunks are flagged, outside the cooldown, or when the model is
older than drift.max_model_age_days (measured on the data clock). Writes reports/drift/drift.json and
drift.html, logs them and the numbers to MLflow (when MLFLOW_TRACKING_URI is set). Exit 20: a retrain is
due; 21: data drift found (window PSI above drift.psi_threshold) but no retrain due; 0: neither.`

  static examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --model-dir build/model --json']

  static flags = {
    'model-dir': Flags.string({summary: 'Examine this model directory instead of @champion.'}),
    'out-dir': Flags.string({summary: 'Folder for drift.json and drift.html (default: reports/drift).'}),
    'drift-exit-code': Flags.integer({summary: 'Exit code when a retrain is due.', default: DRIFT_EXIT_CODE, min: 1, max: 255}),
  }

  async run(): Promise<DriftCommandResult> {
    const {flags} = await this.parse(Drift)
    const params = this.loadParams(flags.params)
    const section = modelSection(params)
    const client = process.env.MLFLOW_TRACKING_URI ? MlflowClient.fromEnv() : undefined
    let model
    if (flags['model-dir']) model = await loadModelDir(flags['model-dir'])
    else {
      const loaded = await loadAlias(MlflowClient.fromEnv(), section.registered_name, ALIASES.champion)
      if (!loaded) this.error(`'${section.registered_name}' has no @champion; pass --model-dir`, {exit: 1})
      model = loaded.model
    }
    const report = await detectDrift(model, driftSettings(params), process.env)
    const outDir = resolve(flags['out-dir'] ?? join(workDir(), 'reports/drift'))
    const json = join(outDir, 'drift.json')
    const html = join(outDir, 'drift.html')
    await writeFileAtomic(json, JSON.stringify(report, null, 2) + '\n')
    await writeFileAtomic(html, driftHtml(report))
    const mlflowRunId = client ? await logDriftRun(client, section.experiment, report, {json, html}) : null
    this.note(`${report.decision.retrain ? 'RETRAIN' : 'ok'}: ${report.decision.reason}; data drift ${report.dataDrift}, concept drift ${report.conceptDrift}; report ${html}`)
    if (report.decision.retrain) process.exitCode = flags['drift-exit-code']
    else if (report.dataDrift) process.exitCode = DATA_DRIFT_EXIT_CODE
    return {...report, report: {json, html}, mlflowRunId}
  }
}
