import {Flags} from '@oclif/core'

import {RpsCommand} from '../lib/cli/base-command.js'
import {liveProgress, runSteps} from '../lib/cli/progress.js'
import {type FetchResult, fetchRaw} from '../lib/fetch/fetch-raw.js'

export type FetchCommandResult = FetchResult

export default class Fetch extends RpsCommand {
  static summary = 'Fetch hourly weather observations and save the raw responses as received.'

  static description = `Sources: replay (offline default: the shipped recorded year, served up to the replay clock),
open-meteo (live, no key), openweathermap (needs OPENWEATHERMAP_API_KEY), csv (--file).
Each response is written atomically to data/raw/<source>/<location>/<collected-at>-<kind>.json with a
.meta.json sidecar (collection time, source, request, HTTP status). Timeouts, connection errors, 429
and 5xx are retried with exponential backoff and jitter, honouring Retry-After.`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --source replay --at 2026-03-01T12:00:00Z',
    '<%= config.bin %> <%= command.id %> --source open-meteo --backfill-days 365',
    '<%= config.bin %> <%= command.id %> --source csv --file observations.csv --json',
  ]

  static flags = {
    source: Flags.string({summary: 'Data source (default: $RPS_SOURCE, else params.yaml fetch.source).', options: ['replay', 'open-meteo', 'openweathermap', 'csv']}),
    at: Flags.string({summary: 'Replay clock (ISO 8601): hours up to this instant count as observed. Default: $RPS_REPLAY_AT, else now.'}),
    'backfill-days': Flags.integer({summary: 'Also fetch this many days of history (open-meteo: archive endpoint).', min: 0, max: 36500}),
    'past-hours': Flags.integer({summary: 'Recent hours to fetch (default: params.yaml fetch.past_hours).', min: 1, max: 2208}),
    file: Flags.string({summary: 'CSV of hourly observations (csv source): a time column plus variable columns.'}),
    'location-name': Flags.string({summary: 'Override params.yaml location.name.'}),
    latitude: Flags.string({summary: 'Override params.yaml location.latitude.'}),
    longitude: Flags.string({summary: 'Override params.yaml location.longitude.'}),
    retries: Flags.integer({summary: 'Retries after the first attempt (default: params.yaml fetch.retry.attempts - 1).', min: 0, max: 19}),
    'timeout-ms': Flags.integer({summary: 'Per-attempt timeout in ms (default: params.yaml fetch.timeout_ms).', min: 100}),
  }

  async run(): Promise<FetchCommandResult> {
    const {flags} = await this.parse(Fetch)
    const params = this.loadParams(flags.params)
    const ctx: {result?: FetchResult} = {}
    await runSteps([{
      title: 'Fetching observations',
      run: async (c, report) => {
        c.result = await fetchRaw(params, {
          source: flags.source, at: flags.at, backfillDays: flags['backfill-days'], pastHours: flags['past-hours'], file: flags.file,
          location: {name: flags['location-name'], latitude: toNumber(flags.latitude), longitude: toNumber(flags.longitude)},
          retries: flags.retries, timeoutMs: flags['timeout-ms'],
          onRetry: (info) => {
            const line = `attempt ${info.attempt} failed (${info.reason}); retrying in ${(info.delayMs / 1000).toFixed(1)} s`
            report(line)
            // The live task list shows a line only while it is current: keep a copy. Plain lines
            // (CI, Airflow) already print it once.
            if (liveProgress()) this.note(line)
          },
        })
      },
    }], ctx, {quiet: this.jsonEnabled()})
    const result = ctx.result!
    for (const f of result.files) this.note(`saved ${f.body} (${f.bytes} bytes, ${f.kind})`)
    return result
  }
}

function toNumber(value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isFinite(n)) throw new Error(`not a number: ${value}`)
  return n
}
