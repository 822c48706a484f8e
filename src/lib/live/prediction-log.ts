import {existsSync} from 'node:fs'
import {appendFile, mkdir, readFile} from 'node:fs/promises'
import {dirname, join} from 'node:path'

import {workDir} from '../util/project.js'

export type PredictionSource = 'forecast' | 'serve'

/** Where a band came from: the version's live band (adaptive conformal inference) or its training calibration. */
export type BandSource = 'live' | 'calibration'

/** One line of the prediction log: a forecast made at `issued_at` for `target_time`. */
export interface PredictionRecord {
  /** The observation hour the forecast was made from (ISO). */
  issued_at: string
  /** issued_at + the model's horizon (ISO). */
  target_time: string
  prediction: number
  /** The persistence forecast: the target's value at issued_at. */
  persistence: number
  model: {name: string; version: string}
  source: PredictionSource
  logged_at: string
  /** Hours ahead (target_time - issued_at); absent in lines written before forecasts had a path. */
  horizon?: number
  /** The bands the forecast was given, by level ("0.8": [lower, upper]). */
  bands?: Record<string, [number, number]>
  /** Each band's source, by level (absent in lines written before it was recorded). */
  band_source?: Record<string, BandSource>
}

/** RPS_PREDICTION_LOG, else <workdir>/data/predictions/predictions.jsonl. */
export function predictionLogPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.RPS_PREDICTION_LOG || join(workDir(), 'data/predictions/predictions.jsonl')
}

/**
 * Appends a batch as complete lines in one write (O_APPEND): concurrent writers (rps serve and
 * rps forecast) interleave whole batches, never parts of lines.
 */
export async function appendPredictions(path: string, records: PredictionRecord[]): Promise<void> {
  if (records.length === 0) return
  await mkdir(dirname(path), {recursive: true})
  await appendFile(path, records.map((r) => JSON.stringify(r) + '\n').join(''), 'utf8')
}

function isRecord(value: unknown): value is PredictionRecord {
  if (typeof value !== 'object' || value === null) return false
  const r = value as Record<string, unknown>
  const model = r.model as Record<string, unknown> | undefined
  return typeof r.issued_at === 'string' && !Number.isNaN(Date.parse(r.issued_at))
    && typeof r.target_time === 'string' && !Number.isNaN(Date.parse(r.target_time))
    && typeof r.prediction === 'number' && Number.isFinite(r.prediction)
    && typeof r.persistence === 'number' && Number.isFinite(r.persistence)
    && typeof model === 'object' && model !== null && typeof model.name === 'string' && typeof model.version === 'string'
}

/**
 * Every well-formed line of the log, in file order. A last line without its newline (a writer
 * killed mid-append) and lines that do not parse are counted as malformed, not fatal.
 */
export async function readPredictionLog(path: string): Promise<{records: PredictionRecord[]; malformed: number}> {
  if (!existsSync(path)) return {records: [], malformed: 0}
  const text = await readFile(path, 'utf8')
  const lines = text.split('\n')
  const partial = lines.pop() ?? ''
  let malformed = partial.trim() ? 1 : 0
  const records: PredictionRecord[] = []
  for (const line of lines) {
    if (!line.trim()) continue
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch {
      malformed++
      continue
    }
    if (isRecord(value)) records.push(value)
    else malformed++
  }
  return {records, malformed}
}

/**
 * The server's writer: batches are appended in order, off the request path. A failing write never
 * fails a request; the first failure is logged, later ones only counted until a write succeeds again.
 */
export class PredictionLogWriter {
  failures = 0
  private queue: Promise<void> = Promise.resolve()
  private failing = false

  constructor(readonly path: string, private readonly log: (line: string) => void, private readonly onFailure: () => void = () => {}) {}

  write(records: PredictionRecord[]): void {
    if (records.length === 0) return
    this.queue = this.queue.then(() => appendPredictions(this.path, records)).then(() => {
      if (this.failing) this.log(`prediction log ${this.path} writable again (${this.failures} batch(es) lost)`)
      this.failing = false
    }, (error: unknown) => {
      this.failures++
      this.onFailure()
      if (!this.failing) this.log(`cannot append to the prediction log ${this.path}: ${(error as Error).message}; requests are still answered, further failures are only counted`)
      this.failing = true
    })
  }

  /** Resolves when every batch written so far is on disk (or has failed). */
  flush(): Promise<void> {
    return this.queue
  }
}
