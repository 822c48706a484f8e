import {Flags} from '@oclif/core'

import {RpsCommand} from '../lib/cli/base-command.js'
import {runSteps} from '../lib/cli/progress.js'
import {type TrainResult, trainModel} from '../lib/model/train.js'

export type TrainCommandResult = TrainResult

export default class Train extends RpsCommand {
  static summary = 'Train the forecaster, log it to MLflow and register it as @challenger (or --alias).'

  static description = `Trains a random forest (ml-random-forest, hyperparameters from params.yaml model) on
data/processed/dataset.parquet with a time-ordered split (train / validation / holdout = the most recent
model.holdout_days). Logs parameters, metrics (RMSE, MAE, R2 for the model and the persistence and
seasonal baselines, skill vs the best baseline), tags (data version, git commit, source, location, horizon)
and artifacts (model directory, profile, quality report, plots) to one MLflow run; registers a model
version and sets the alias challenger. Needs MLFLOW_TRACKING_URI. A failure marks the run FAILED and
registers nothing. --alias registers the version under another alias instead of @challenger (a pull
request's candidate, e.g. pr-42: @challenger and @champion stay as they are).`

  static examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --n-estimators 20 --json', '<%= config.bin %> <%= command.id %> --alias pr-42   # CI: a candidate production never looks at']

  static flags = {
    'n-estimators': Flags.integer({summary: 'Trees (default: params.yaml model.n_estimators).', min: 1}),
    'max-depth': Flags.integer({summary: 'Maximum tree depth (default: params.yaml model.max_depth).', min: 1}),
    'max-samples': Flags.integer({summary: 'Rows drawn per tree (default: params.yaml model.max_samples).', min: 10}),
    workers: Flags.integer({summary: 'Worker threads (default: params.yaml model.workers).', min: 1}),
    seed: Flags.integer({summary: 'Random seed (default: params.yaml model.seed).'}),
    out: Flags.string({summary: 'Also keep the model directory here (default: build/model).'}),
    alias: Flags.string({summary: 'Alias the new version gets instead of challenger (e.g. pr-42; never champion or previous-champion).', default: 'challenger'}),
  }

  async run(): Promise<TrainCommandResult> {
    const {flags} = await this.parse(Train)
    const params = this.loadParams(flags.params)
    const ctx: {result?: TrainResult} = {}
    await runSteps([{
      title: 'Training',
      run: async (c, report) => {
        c.result = await trainModel(params, {
          outDir: flags.out,
          alias: flags.alias,
          overrides: {
            ...(flags['n-estimators'] ? {n_estimators: flags['n-estimators']} : {}),
            ...(flags['max-depth'] ? {max_depth: flags['max-depth']} : {}),
            ...(flags['max-samples'] ? {max_samples: flags['max-samples']} : {}),
            ...(flags.workers ? {workers: flags.workers} : {}),
            ...(flags.seed !== undefined ? {seed: flags.seed} : {}),
          },
          onProgress: report,
        })
      },
    }], ctx, {quiet: this.jsonEnabled()})
    const r = ctx.result!
    const h = r.metrics.holdout!
    this.note(`${r.registeredModel} v${r.version} @${r.alias}: holdout RMSE ${h.model!.rmse.toFixed(3)} °C vs persistence ${h.persistence!.rmse.toFixed(3)}, seasonal ${h.seasonal!.rmse.toFixed(3)} (skill ${(100 * r.holdoutSkillVsBestBaseline).toFixed(1)} %); run ${r.runId}`)
    return r
  }
}
