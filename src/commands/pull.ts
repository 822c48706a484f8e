import {Flags} from '@oclif/core'

import {RpsCommand} from '../lib/cli/base-command.js'
import {type PullResult, pullState} from '../lib/storage/pull.js'

export default class Pull extends RpsCommand {
  static summary = 'Restore task state from S3 by version: a dataset version, new raw files, a run\'s reports, the live state.'

  static description = `The counterpart of rps push for workers that share nothing but object storage (docs/DEPLOY.md):
each Airflow task starts with rps pull in an empty working directory.
  --data-version SHA256   restore data/processed as that dataset version (processed/<sha256>/, hash-checked);
                          "current" = the newest version rps push recorded (processed/CURRENT.json; none yet:
                          nothing restored, exit 0)
  --raw                   download the raw files of the source/location not yet merged into that history
  --run KEY               download the reports earlier tasks of run KEY stored (runs/KEY/reports/...) into
                          --into (default .rps/run, emptied first): .rps/run/drift/drift.json, ...
  --live                  download the prediction log and live errors (live/)
Files are written under temp names and renamed; a dataset that does not hash to its version is refused.`

  static examples = [
    '<%= config.bin %> <%= command.id %> --data-version current --raw',
    '<%= config.bin %> <%= command.id %> --data-version 3f1c...e9 --live',
    '<%= config.bin %> <%= command.id %> --run manual__2026-04-10T00-00-00_00-00',
  ]

  static flags = {
    'data-version': Flags.string({summary: 'Dataset version to restore: its sha256, or "current".'}),
    raw: Flags.boolean({summary: 'Download raw files not merged into the restored history yet.'}),
    source: Flags.string({summary: 'Source of --raw (default: $RPS_SOURCE, else params.yaml).', options: ['replay', 'open-meteo', 'openweathermap', 'csv']}),
    run: Flags.string({summary: 'Download the reports stored under runs/<RUN>/.'}),
    into: Flags.string({summary: 'Folder for the --run reports (default: .rps/run; emptied first).', dependsOn: ['run']}),
    live: Flags.boolean({summary: 'Download the prediction log and live errors.'}),
  }

  async run(): Promise<PullResult> {
    const {flags} = await this.parse(Pull)
    const params = this.loadParams(flags.params)
    const r = await pullState(params, {dataVersion: flags['data-version'], raw: flags.raw, source: flags.source, runKey: flags.run, into: flags.into, live: flags.live})
    this.note(`restored from s3://${r.bucket}: data version ${r.dataVersion ?? '(none)'}${r.raw ? `, ${r.raw.downloaded} raw file(s)` : ''}, ${r.reports.length} report(s), ${r.live.length} live file(s)`)
    return r
  }
}
