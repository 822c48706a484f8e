import {readFile} from 'node:fs/promises'

import type {Params} from '../config/params.js'
import {RpsError} from '../errors.js'
import {rawFormatOf} from '../raw/observations.js'
import {qualityPathFor, readMeta} from '../raw/store.js'
import {writeFileAtomic} from '../util/atomic-file.js'
import {type QualityVerdict, runQualityGate} from './gate.js'

export interface QualityReport extends QualityVerdict {
  file: string
  report: string
  source: string
  kind: string
  location: string
  collectedAt: string
  checkedAt: string
}

/** Checks one raw body and writes `<body>.quality.json` beside it, whether it passes or not. */
export async function checkRawFile(bodyPath: string, params: Params, now = new Date()): Promise<QualityReport> {
  const meta = await readMeta(bodyPath)
  let text: string
  try {
    text = await readFile(bodyPath, 'utf8')
  } catch {
    throw new RpsError(`cannot read raw file ${bodyPath}`, {code: 'RAW_UNREADABLE'})
  }
  let body: unknown
  let verdict: QualityVerdict
  try {
    body = JSON.parse(text)
    verdict = runQualityGate({
      format: rawFormatOf(meta.source), body, meta,
      variables: params.variables, target: params.target, thresholds: params.quality,
    })
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error
    verdict = {
      passed: false, rows: 0, span: {first: null, last: null}, failed: ['schema'],
      checks: [{name: 'schema', status: 'fail', value: 1, threshold: 0, detail: `body is not valid JSON: ${error.message}`}],
    }
  }
  const report: QualityReport = {
    file: bodyPath,
    report: qualityPathFor(bodyPath),
    source: meta.source,
    kind: meta.kind,
    location: meta.location.name,
    collectedAt: meta.collectedAt,
    checkedAt: now.toISOString(),
    ...verdict,
  }
  await writeFileAtomic(report.report, JSON.stringify(report, null, 2) + '\n')
  return report
}
