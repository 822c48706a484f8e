import {readFile} from 'node:fs/promises'
import {resolve} from 'node:path'

import {ConfigError} from '../errors.js'
import {buildOpenMeteoBody, openMeteoStamp} from './open-meteo-body.js'
import type {FetchRequest, RawCapture, Source} from './types.js'

/**
 * A user CSV of hourly observations: header row, a `time` column (ISO 8601; `Z` or an offset is
 * honoured, a time without one is taken as UTC) and any of the configured variable columns in
 * Open-Meteo units. Plain comma-separated values, no quoting. Empty cells are missing values.
 */
export const csvSource: Source = {
  name: 'csv',
  async fetch(request: FetchRequest): Promise<RawCapture[]> {
    if (!request.file) throw new ConfigError('the csv source needs --file <path to an hourly CSV>')
    const path = resolve(request.file)
    const started = Date.now()
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch {
      throw new ConfigError(`cannot read CSV file ${path}`)
    }
    const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '')
    const header = (lines.shift() ?? '').split(',').map((h) => h.trim())
    if (header.some((h) => h.includes('"'))) throw new ConfigError(`CSV ${path}: quoted fields are not supported`)
    const timeIndex = header.indexOf('time')
    if (timeIndex < 0) throw new ConfigError(`CSV ${path} has no 'time' column (header: ${header.join(',')})`)
    const variables = request.variables.filter((v) => header.includes(v))
    if (!variables.includes(request.params.target)) {
      throw new ConfigError(`CSV ${path} has no '${request.params.target}' column (the target)`)
    }
    const time: string[] = []
    const columns: Record<string, unknown[]> = Object.fromEntries(variables.map((v) => [v, []]))
    for (const line of lines) {
      const cells = line.split(',').map((c) => c.trim())
      time.push(toUtcStamp(cells[timeIndex] ?? ''))
      for (const v of variables) columns[v]!.push(toValue(cells[header.indexOf(v)]))
    }
    const body = buildOpenMeteoBody(request.location, 0, time, columns, Date.now() - started)
    return [{
      body,
      meta: {
        source: 'csv', kind: 'csv', location: request.location,
        collectedAt: request.now.toISOString(), fetchedAt: request.now.toISOString(), observedUntil: request.now.toISOString(), live: false,
        request: {url: `file://${path}`, params: {}}, httpStatus: null, attempts: 1, elapsedMs: Date.now() - started,
        bodyBytes: Buffer.byteLength(body),
      },
    }]
  },
}

/** A parseable time becomes an Open-Meteo UTC stamp; anything else is kept verbatim for the gate to reject. */
function toUtcStamp(cell: string): string {
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/.test(cell)
  const ms = Date.parse(hasZone ? cell : `${cell}Z`)
  return Number.isNaN(ms) ? cell : openMeteoStamp(ms)
}

/** Numbers become numbers, empty cells null; any other text is kept so the schema check names it. */
function toValue(cell: string | undefined): unknown {
  if (cell === undefined || cell === '' || cell.toLowerCase() === 'nan' || cell.toLowerCase() === 'null') return null
  const n = Number(cell)
  return Number.isFinite(n) ? n : cell
}
