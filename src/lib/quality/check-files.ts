import type {Params} from '../config/params.js'
import {rawFormatOf} from '../raw/observations.js'
import {qualityPathFor} from '../raw/store.js'
import {type QuarantineRecord, readVerifiedRaw} from '../raw/verify.js'
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

export interface CheckOutcome {
  reports: QualityReport[]
  /** Bodies that did not match their bodySha256 or could not be read: moved to data/quarantine. */
  quarantined: QuarantineRecord[]
}

/** Checks each file; a body that fails verification is quarantined instead of checked. */
export async function checkRawFiles(files: string[], params: Params, env: NodeJS.ProcessEnv = process.env, now = new Date()): Promise<CheckOutcome> {
  const out: CheckOutcome = {reports: [], quarantined: []}
  for (const file of files) {
    const r = await checkRawFile(file, params, env, now)
    if ('quarantined' in r) out.quarantined.push(r.quarantined)
    else out.reports.push(r)
  }
  return out
}

/**
 * Checks one raw body and writes `<body>.quality.json` beside it, whether it passes or not.
 * The body is verified against its meta's bodySha256 first; one that fails is quarantined.
 */
export async function checkRawFile(bodyPath: string, params: Params, env: NodeJS.ProcessEnv = process.env, now = new Date()): Promise<QualityReport | {quarantined: QuarantineRecord}> {
  const raw = await readVerifiedRaw(bodyPath, 'check', env)
  if (!raw.ok) return {quarantined: raw.quarantined}
  const {meta, text} = raw
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
