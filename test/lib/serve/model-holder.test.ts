import {strict as assert} from 'node:assert'
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {modelFromForest} from '../../../src/lib/model/model-dir.js'
import {ServiceMetrics} from '../../../src/lib/serve/metrics.js'
import {type Candidate, ModelHolder} from '../../../src/lib/serve/model-holder.js'
import {ServedModel} from '../../../src/lib/serve/served-model.js'
import {leafForest, tinyMeta, writeTinyModel} from '../../support/tiny-model.js'

const limits = {maxInstances: 10}

async function metric(metrics: ServiceMetrics, name: string): Promise<number> {
  const line = (await metrics.registry.metrics()).split('\n').find((l) => l.startsWith(`${name} `))
  return Number(line?.split(' ')[1])
}

function predictionOf(holder: ModelHolder): number {
  const model = holder.current!
  return model.predict(model.checkRequest({instances: [model.example()]})).predictions[0]!.prediction
}

describe('the model holder', () => {
  let dir: string
  beforeEach(async () => {
    dir = join(await mkdtemp(join(tmpdir(), 'rps-holder-')), 'model')
  })

  it('when a file no longer matches the digests registry.json recorded, then the reload is refused, the old model keeps serving and the refusal is counted', async () => {
    await writeTinyModel(dir, 1, {name: 'rps-temperature', version: '4', alias: 'champion'})
    const metrics = new ServiceMetrics()
    const lines: string[] = []
    const holder = new ModelHolder({modelDir: dir, alias: 'champion', registeredName: 'rps-temperature', limits}, metrics, (l) => lines.push(l))
    await holder.reload()
    assert.deepEqual(holder.current!.identity, {name: 'rps-temperature', version: '4', alias: 'champion', verified: true})
    assert.equal(await metric(metrics, 'rps_model_unverified'), 0)
    const before = predictionOf(holder)
    // A valid, loadable forest with other answers: only the digest tells it apart.
    const forest = join(dir, 'forest.json')
    await writeFile(forest, (await readFile(forest, 'utf8')).replace('"distribution":1', '"distribution":5'))
    await assert.rejects(holder.reload(), {code: 'MODEL_DIGEST_MISMATCH', message: /does not match its recorded digests: forest\.json has sha256/})
    assert.equal(predictionOf(holder), before)
    assert.equal(await metric(metrics, 'rps_model_digest_mismatch_total'), 1)
    assert.match(lines.at(-1)!, /reload rejected: .*forest\.json.*; still serving v4$/)
    await rm(forest)
    await assert.rejects(holder.reload(), {message: `model in ${dir} does not match its recorded digests: forest.json is missing`})
    assert.equal(await metric(metrics, 'rps_model_digest_mismatch_total'), 2)
  })

  it('when a model directory has no recorded digests, then it is served, marked unverified', async () => {
    await writeTinyModel(dir, 1)
    const metrics = new ServiceMetrics()
    const lines: string[] = []
    const holder = new ModelHolder({modelDir: dir, alias: 'champion', registeredName: 'rps-temperature', limits}, metrics, (l) => lines.push(l))
    await holder.reload()
    assert.equal(holder.current!.identity.verified, false)
    assert.equal(await metric(metrics, 'rps_model_unverified'), 1)
    assert.match(lines.at(-1)!, /UNVERIFIED: no artifact digests were recorded/)
  })

  it('when a slow reload of an older version is still running as a newer one is asked for, then the newer one ends up served', async () => {
    const served = (version: string, value: number) => new ServedModel(modelFromForest('mem', tinyMeta(), leafForest(value)), {name: 'rps-temperature', version, alias: 'champion', verified: true}, limits)
    // The registry answers v1 to the first look (its download is slow) and v2 to every later one.
    let looks = 0
    let inFlight = 0
    let overlapped = false
    class Holder extends ModelHolder {
      protected override async load(known: string | undefined): Promise<Candidate | undefined> {
        const version = ++looks === 1 ? '1' : '2'
        if (version === known) return undefined
        inFlight++
        overlapped ||= inFlight > 1
        await new Promise((r) => setTimeout(r, version === '1' ? 300 : 10))
        inFlight--
        return {served: served(version, Number(version)), trigger: 'manual'}
      }
    }
    const holder = new Holder({alias: 'champion', registeredName: 'rps-temperature', limits}, new ServiceMetrics())
    const slow = holder.reload()
    const fast = holder.reload()
    const third = holder.reload() // shares the follow-up reload queued behind the slow one
    assert.equal(fast, third)
    assert.deepEqual(await slow, {changed: true, version: '1'})
    assert.deepEqual(await fast, {changed: true, version: '2'})
    assert.equal(holder.current!.identity.version, '2')
    assert.equal(overlapped, false, 'two reloads ran at once')
    assert.equal(looks, 2)
  })
})
