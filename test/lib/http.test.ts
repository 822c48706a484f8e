import {strict as assert} from 'node:assert'

import {apiReason, backoffDelayMs, parseRetryAfterMs} from '../../src/lib/sources/http.js'

describe('http retry policy', () => {
  const policy = {attempts: 5, base_delay_ms: 500, max_delay_ms: 4000}

  it('when backing off, then the ceiling doubles per attempt up to the maximum (full jitter)', () => {
    assert.equal(backoffDelayMs(1, policy, () => 1), 500)
    assert.equal(backoffDelayMs(2, policy, () => 1), 1000)
    assert.equal(backoffDelayMs(3, policy, () => 1), 2000)
    assert.equal(backoffDelayMs(5, policy, () => 1), 4000)
    assert.equal(backoffDelayMs(3, policy, () => 0), 0)
    assert.equal(backoffDelayMs(3, policy, () => 0.5), 1000)
  })

  it('when Retry-After is seconds or an HTTP date, then it becomes milliseconds', () => {
    assert.equal(parseRetryAfterMs('7'), 7000)
    assert.equal(parseRetryAfterMs('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')), 10_000)
    assert.equal(parseRetryAfterMs('soon'), undefined)
    assert.equal(parseRetryAfterMs(undefined), undefined)
  })

  it('when an API explains an error, then its own reason is used', () => {
    assert.equal(apiReason('{"error":true,"reason":"Latitude must be in range of -90 to 90°. Given: 95.0."}'), 'Latitude must be in range of -90 to 90°. Given: 95.0.')
    assert.equal(apiReason('{"cod":401,"message":"Invalid API key."}'), 'Invalid API key.')
    assert.equal(apiReason('<html>\n Bad   Gateway</html>'), '<html> Bad Gateway</html>')
  })
})
