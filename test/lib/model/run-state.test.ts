import {strict as assert} from 'node:assert'
import {execa} from 'execa'
import {hostname} from 'node:os'

import type {Run} from '../../../src/lib/mlflow/client.js'
import {STALE_AFTER_MS, staleReason} from '../../../src/lib/model/run-state.js'

const run = (tags: Record<string, string>, startTime: number): Run => ({
  info: {run_id: 'r', experiment_id: '1', status: 'RUNNING', artifact_uri: '', start_time: startTime},
  data: {tags: Object.entries(tags).map(([key, value]) => ({key, value}))},
})

describe('stale RUNNING runs (rps train closes them at its start)', () => {
  const now = Date.now()

  it('when the owning process on this machine is alive, then the run is not stale, however old', () => {
    assert.equal(staleReason(run({'rps.host': hostname(), 'rps.pid': String(process.pid)}, now - 2 * STALE_AFTER_MS), now), undefined)
    assert.equal(staleReason(run({'rps.host': hostname(), 'rps.pid': String(process.ppid)}, now - 2 * STALE_AFTER_MS), now), undefined)
  })

  it('when the owning process on this machine is gone, then the run is stale at once', async () => {
    const gone = await execa(process.execPath, ['-e', 'console.log(process.pid)'])
    const reason = staleReason(run({'rps.host': hostname(), 'rps.pid': String(gone.stdout).trim()}, now), now)
    assert.match(reason!, /its process \(pid \d+ on .+\) is gone/)
  })

  it('when the run comes from another machine or has no owner, then it is stale only after the limit', () => {
    assert.equal(staleReason(run({'rps.host': 'elsewhere', 'rps.pid': '1'}, now - 60_000), now), undefined)
    assert.match(staleReason(run({'rps.host': 'elsewhere', 'rps.pid': '1'}, now - STALE_AFTER_MS - 1), now)!, /on elsewhere/)
    assert.match(staleReason(run({}, now - STALE_AFTER_MS - 1), now)!, /no owner recorded/)
  })
})
