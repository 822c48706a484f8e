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
commits dvc.lock to git. Prints the data version (the dataset's DVC md5). A failure at any step leaves
the previous dvc.lock and data version in place.`

  static examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --no-git-commit --json']

  static flags = {
    dvc: Flags.boolean({summary: 'Version the dataset with DVC (use --no-dvc for object storage only).', default: true, allowNo: true}),
    'git-commit': Flags.boolean({summary: 'Commit dvc.lock to git after the push (env RPS_COMMIT_DATA: 1 = yes, 0 = leave it uncommitted).', default: true, allowNo: true, env: 'RPS_COMMIT_DATA'}),
  }

  async run(): Promise<PushCommandResult> {
    const {flags} = await this.parse(Push)
    const ctx: {result?: PushResult} = {}
    await runSteps([{
      title: 'Storing and versioning data',
      run: async (c, report) => {
        c.result = await pushData({dvc: flags.dvc, gitCommit: flags['git-commit'], onProgress: report})
      },
    }], ctx, {quiet: this.jsonEnabled()})
    const r = ctx.result!
    this.note(`stored in s3://${r.bucket}: ${r.raw.uploaded} new raw file(s)${r.raw.quarantined ? ` (${r.raw.quarantined} quarantined)` : ''}, ${r.processed.length} processed file(s); data version ${r.dataVersion ?? '(dvc skipped)'}${r.gitCommit ? `, git ${r.gitCommit.slice(0, 10)}` : ''}`)
    return r
  }
}
