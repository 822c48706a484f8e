import {Flags} from '@oclif/core'

import {RpsCommand} from '../lib/cli/base-command.js'
import {runSteps} from '../lib/cli/progress.js'
import {type PushResult, pushData} from '../lib/storage/push.js'

export type PushCommandResult = PushResult

export default class Push extends RpsCommand {
  static summary = 'Store raw and processed data in S3 (MinIO) and version the dataset with DVC.'

  static description = `Uploads new raw files (raw/<source>/<location>/...) and the processed dataset
(processed/<sha256>/...) to $RPS_S3_BUCKET at $RPS_S3_ENDPOINT, verifying each upload (Content-MD5, size,
ETag). Then records the dataset in dvc.lock (dvc commit featurize), pushes it to the DVC remote and
commits dvc.lock to git (--no-git-commit: not; the Airflow DAG never commits). A versioned dataset is
also recorded in S3 as processed/<sha256>/version.json and processed/CURRENT.json, which
\`rps pull --data-version current\` restores on another machine. Prints the data version (the dataset's DVC
md5). A failure at any step leaves the previous dvc.lock and data version in place.

Task state for workers that share only object storage (docs/DEPLOY.md): --raw-only stores the raw files
alone; --run KEY stores reports/ (or each --report, and each --optional-report that exists) under
runs/KEY/; --live stores the prediction log and live errors under live/; with --state-only nothing else
is stored. --print-version prints the dataset's sha256 alone on stdout (the Airflow XCom of the featurize
task).`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --no-git-commit --json',
    '<%= config.bin %> <%= command.id %> --raw-only',
    '<%= config.bin %> <%= command.id %> --state-only --run manual__2026-04-10 --report reports/drift --live',
  ]

  static flags = {
    dvc: Flags.boolean({summary: 'Version the dataset with DVC (use --no-dvc for object storage only).', default: true, allowNo: true}),
    'git-commit': Flags.boolean({summary: 'Commit dvc.lock to git after the push (env RPS_COMMIT_DATA: 1 = yes, 0 = leave it uncommitted).', default: true, allowNo: true, env: 'RPS_COMMIT_DATA'}),
    'raw-only': Flags.boolean({summary: 'Store the raw files only (no processed dataset, no DVC).', exclusive: ['state-only']}),
    run: Flags.string({summary: 'Also store reports under runs/<RUN>/ (e.g. the Airflow run id): --report, default reports/.'}),
    report: Flags.string({summary: 'A report file or folder to store with --run (repeatable), e.g. reports/drift.', multiple: true, dependsOn: ['run']}),
    'optional-report': Flags.string({summary: 'Like --report, but skipped when absent (repeatable), e.g. reports/live/forecast.html: none without a champion.', multiple: true, dependsOn: ['run']}),
    live: Flags.boolean({summary: 'Also store the prediction log and live errors under live/.'}),
    'state-only': Flags.boolean({summary: 'Store only what --run and --live ask for.'}),
    'print-version': Flags.boolean({summary: 'Print the stored dataset\'s sha256 alone on stdout (nothing when none was stored; ignored with --json).'}),
  }

  async run(): Promise<PushCommandResult> {
    const {flags} = await this.parse(Push)
    const ctx: {result?: PushResult} = {}
    await runSteps([{
      title: 'Storing and versioning data',
      run: async (c, report) => {
        c.result = await pushData({
          dvc: flags.dvc, gitCommit: flags['git-commit'], rawOnly: flags['raw-only'], runKey: flags.run, reports: flags.report, optionalReports: flags['optional-report'], live: flags.live, stateOnly: flags['state-only'], onProgress: report,
        })
      },
    }], ctx, {quiet: this.jsonEnabled()})
    const r = ctx.result!
    this.note(`stored in s3://${r.bucket}: ${r.raw.uploaded} new raw file(s)${r.raw.quarantined ? ` (${r.raw.quarantined} quarantined)` : ''}, ${r.processed.length} processed file(s), ${r.reports.length} report(s), ${r.live.length} live file(s); data version ${r.dataVersion ?? '(dvc skipped)'}${r.gitCommit ? `, git ${r.gitCommit.slice(0, 10)}` : ''}`)
    if (flags['print-version'] && r.datasetSha256 && !this.jsonEnabled()) this.log(r.datasetSha256)
    return r
  }
}
