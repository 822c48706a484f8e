import {strict as assert} from 'node:assert'
import {appendFile, mkdir, mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {PredictionLogWriter, type PredictionRecord, appendPredictions, predictionLogPath, readPredictionLog} from '../../../src/lib/live/prediction-log.js'

function rec(hour: number, prediction = 10): PredictionRecord {
  const t = Date.parse('2026-05-20T00:00:00Z') + hour * 3_600_000
  return {
    issued_at: new Date(t).toISOString(), target_time: new Date(t + 6 * 3_600_000).toISOString(), prediction, persistence: 9,
    model: {name: 'rps-temperature', version: '3'}, source: 'serve', logged_at: new Date(t + 1000).toISOString(),
  }
}

describe('prediction log', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rps-predlog-'))
  })
  afterEach(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  it('when batches are appended, then each record is one complete line and reads back in order', async () => {
    const path = join(dir, 'sub/predictions.jsonl')
    await appendPredictions(path, [rec(0), rec(1)])
    await appendPredictions(path, [])
    await appendPredictions(path, [rec(2)])
    const text = await readFile(path, 'utf8')
    assert.equal(text.split('\n').length, 4)
    assert.ok(text.endsWith('\n'))
    const {records, malformed} = await readPredictionLog(path)
    assert.deepEqual(records, [rec(0), rec(1), rec(2)])
    assert.equal(malformed, 0)
  })

  it('when the log has a torn last line or foreign lines, then those are counted as malformed and the rest is read', async () => {
    const path = join(dir, 'p.jsonl')
    await appendPredictions(path, [rec(0)])
    await appendFile(path, 'not json\n{"issued_at":"x","target_time":"y","prediction":1}\n\n' + JSON.stringify({...rec(1), prediction: 'NaN'}) + '\n')
    await appendPredictions(path, [rec(2)])
    await appendFile(path, JSON.stringify(rec(3)).slice(0, 40))
    const {records, malformed} = await readPredictionLog(path)
    assert.deepEqual(records.map((r) => r.issued_at), [rec(0).issued_at, rec(2).issued_at])
    assert.equal(malformed, 4)
    assert.deepEqual(await readPredictionLog(join(dir, 'missing.jsonl')), {records: [], malformed: 0})
  })

  it('when RPS_PREDICTION_LOG is set, then it is the path; else <workdir>/data/predictions/predictions.jsonl', () => {
    assert.equal(predictionLogPath({RPS_PREDICTION_LOG: '/x/p.jsonl'}), '/x/p.jsonl')
    const saved = process.env.RPS_WORKDIR
    process.env.RPS_WORKDIR = '/srv/rps'
    try {
      assert.equal(predictionLogPath({}), '/srv/rps/data/predictions/predictions.jsonl')
    } finally {
      if (saved === undefined) delete process.env.RPS_WORKDIR
      else process.env.RPS_WORKDIR = saved
    }
  })

  it('when the writer cannot append, then it logs once, counts every failure, and says when writing works again', async () => {
    const path = join(dir, 'blocked')
    await mkdir(path)
    const lines: string[] = []
    let counted = 0
    const writer = new PredictionLogWriter(path, (l) => lines.push(l), () => counted++)
    writer.write([rec(0)])
    writer.write([rec(1)])
    writer.write([])
    await writer.flush()
    assert.equal(writer.failures, 2)
    assert.equal(counted, 2)
    assert.equal(lines.length, 1)
    assert.match(lines[0]!, /cannot append to the prediction log .*blocked: EISDIR/)
    await rm(path, {recursive: true})
    writer.write([rec(2)])
    await writer.flush()
    assert.match(lines[1]!, /writable again \(2 batch\(es\) lost\)/)
    assert.deepEqual((await readPredictionLog(path)).records, [rec(2)])
  })
})
