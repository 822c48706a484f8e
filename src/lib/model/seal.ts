import {createHmac, timingSafeEqual} from 'node:crypto'

import {RpsError} from '../errors.js'
import type {ModelVersion} from '../mlflow/client.js'
import {DIGESTS_TAG} from './digests.js'

/** The version tag `rps promote` writes when RPS_PROMOTION_KEY is set: an HMAC over the version and its digests. */
export const SEAL_TAG = 'rps.promotion_seal'

/** RPS_PROMOTION_KEY, or undefined: sealing and checking are off. */
export function promotionKey(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.RPS_PROMOTION_KEY || undefined
}

function digestsTag(version: ModelVersion): string {
  return version.tags?.find((t) => t.key === DIGESTS_TAG)?.value ?? ''
}

/** HMAC-SHA256 (hex) over the registered name, the version and its recorded digests (the tag's exact text). */
export function sealOf(key: string, version: ModelVersion): string {
  return createHmac('sha256', key).update(['rps-seal/1', version.name, version.version, digestsTag(version)].join('\n')).digest('hex')
}

/**
 * A version the server may swap to when a promotion key is set: one `rps promote` sealed (through
 * the gate, or forced with a reason). An alias moved by hand in MLflow points at a version without
 * a valid seal, and a seal does not survive a change of the version's recorded digests.
 */
export function checkSeal(version: ModelVersion, key: string): void {
  const given = version.tags?.find((t) => t.key === SEAL_TAG)?.value
  const ok = given !== undefined && /^[0-9a-f]{64}$/.test(given) && timingSafeEqual(Buffer.from(given, 'hex'), Buffer.from(sealOf(key, version), 'hex'))
  if (!ok) {
    throw new RpsError(`${version.name} v${version.version} ${given === undefined ? 'carries no promotion seal' : 'carries a promotion seal that does not match'}: it was not promoted by rps promote with this RPS_PROMOTION_KEY`, {
      code: 'MODEL_UNSEALED', suggestions: ['promote it through the gate (rps compare && rps promote), or: rps promote --version V --force --reason "why"'],
    })
  }
}
