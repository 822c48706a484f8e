import {Flags} from '@oclif/core'

import {RpsCommand} from '../lib/cli/base-command.js'
import {runSteps} from '../lib/cli/progress.js'
import {resolveSource} from '../lib/fetch/fetch-raw.js'
import {type DatasetSummary, featurize} from '../lib/features/featurize.js'
import {describeHolder} from '../lib/util/lock.js'

export type FeaturizeCommandResult = DatasetSummary

export default class Featurize extends RpsCommand {
  static summary = 'Merge checked raw data into the hourly history and build the training dataset.'

  static description = `Reads raw files that passed the gate, merges them into data/processed/observations.parquet
(dedupe by hour: the newest non-null observation wins), regularizes to an hourly grid (gaps of at most
features.max_fill_hours are interpolated, longer ones stay empty), builds lag/rolling/difference/cyclic
features and the label y = target(t+horizon) - target(t), and writes data/processed/dataset.parquet and
dataset.json (rows, span, columns, gaps) as one new version of data/processed: a run that breaks or is
killed leaves the previous version current. Runs hold the dataset lock (data/.locks/dataset.lock): a
second run waits up to RPS_LOCK_WAIT_SECONDS (default 120; 0 fails at once). A raw body that no longer
matches the bodySha256 recorded at fetch, or cannot be read, is moved to data/quarantine with a reason
file and counted (raw.quarantined); the run goes on without it.`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --source open-meteo --json',
  ]

  static flags = {
    source: Flags.string({summary: 'Source whose raw files are merged (default: $RPS_SOURCE, else params.yaml).', options: ['replay', 'open-meteo', 'openweathermap', 'csv']}),
    'location-name': Flags.string({summary: 'Location (default: params.yaml location.name).'}),
    force: Flags.boolean({summary: 'Accept a dataset less than half the size of the current one.'}),
  }

  async run(): Promise<FeaturizeCommandResult> {
    const {flags} = await this.parse(Featurize)
    const params = this.loadParams(flags.params)
    const source = resolveSource(flags.source, params, process.env)
    const ctx: {summary?: DatasetSummary} = {}
    await runSteps([{
      title: 'Building features',
      run: async (c) => {
        c.summary = await featurize(params, {
          source, location: flags['location-name'] ?? params.location.name, force: flags.force,
          onLockWait: (holder) => this.note(`waiting for the dataset lock held by ${describeHolder(holder)}`),
        })
      },
    }], ctx, {quiet: this.jsonEnabled()})
    const s = ctx.summary!
    for (const q of s.quarantined) this.note(`quarantined ${q.file} -> ${q.movedTo}: ${q.reason}`)
    this.note(`dataset ${s.version}: ${s.rows} rows x ${s.features.length} features, ${s.span.first} .. ${s.span.last} (history ${s.history.hours} h, ${s.raw.merged} new raw file(s), ${s.raw.quarantined} quarantined)`)
    return s
  }
}
