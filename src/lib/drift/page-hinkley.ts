import type {RetrainTrigger} from '../model/promote.js'

/**
 * Page-Hinkley test for an increase in the mean of a stream (here: forecast errors). It tracks
 * m_t = Σ (x_i − x̄_i − δ) and its running minimum M_t, and signals when m_t − M_t > λ.
 * δ is the magnitude of change tolerated, λ the alarm threshold; after an alarm it resets.
 */
export class PageHinkley {
  private n = 0
  private mean = 0
  private cumulative = 0
  private minimum = 0

  constructor(readonly delta: number, readonly lambda: number, readonly minSamples = 24) {}

  /** Adds one value; true when a change is detected (the detector then starts over). */
  update(x: number): boolean {
    this.n++
    this.mean += (x - this.mean) / this.n
    this.cumulative += x - this.mean - this.delta
    this.minimum = Math.min(this.minimum, this.cumulative)
    if (this.n >= this.minSamples && this.cumulative - this.minimum > this.lambda) {
      this.reset()
      return true
    }
    return false
  }

  reset(): void {
    this.n = 0
    this.mean = 0
    this.cumulative = 0
    this.minimum = 0
  }
}

export interface RetrainPolicy {
  /** Windows that must be flagged among the last `n`. */
  k: number
  n: number
  /** Hours after a (re)training during which no retrain is triggered. */
  cooldownHours: number
  /** Retrain anyway when the model is older than this. */
  maxModelAgeHours: number
  /** Window PSI above which a variable counts as drifted, for all or per variable (reported; a trigger only with `dataDriftRetrains`). */
  psiThreshold?: number | Record<string, number>
  /** Whether window PSI above the threshold alone makes a retrain due (after the cooldown). */
  dataDriftRetrains?: boolean
  /** Challengers in a row that lost to the current champion. */
  losingChallengers?: number
  /** Back-off: the cooldown after a losing challenger is cooldownHours x factor^(losing challengers - 1), at most maxModelAgeHours. */
  backoffFactor?: number
}

/** The cooldown after the newest training: backed off by each losing challenger in a row (none lost: the plain cooldown). */
export function effectiveCooldownHours(policy: RetrainPolicy): number {
  const losses = policy.losingChallengers ?? 0
  if (losses <= 1) return policy.cooldownHours
  return Math.min(policy.maxModelAgeHours, policy.cooldownHours * (policy.backoffFactor ?? 1) ** (losses - 1))
}

export interface RetrainDecision {
  retrain: boolean
  trigger: RetrainTrigger | null
  /** One line for humans, with the values that decided. */
  reason: string
}

/** The numbers behind the flags, for the reason line. `windows` is aligned with the window flags. */
export interface DriftEvidence {
  windows?: {mae: number; errorRatio: number; pageHinkleyAlarm: boolean}[]
  /** Window PSI per variable. */
  psi?: Record<string, number>
  /** A live band covering well below its level (src/lib/drift/coverage.ts), said in one line; concept drift evidence. */
  coverage?: string
}

const fixed = (x: number, digits = 2) => x.toFixed(digits)

/**
 * "PSI temperature_2m 1.92 > 1.10, dew_point_2m 0.41 > 0.30" for the (up to three) variables above
 * their threshold: one number for all, or one per variable (calibrated on the training windows).
 */
function psiAbove(psi: Record<string, number> | undefined, threshold: number | Record<string, number> | undefined): string | undefined {
  if (!psi || threshold === undefined) return undefined
  const limit = (f: string) => (typeof threshold === 'number' ? threshold : (threshold[f] ?? Number.POSITIVE_INFINITY))
  const above = Object.entries(psi).filter(([f, v]) => v > limit(f)).sort((a, b) => b[1] - a[1])
  if (above.length === 0) return undefined
  if (typeof threshold === 'number') {
    const shown = above.slice(0, 3).map(([f, v]) => `${f} ${fixed(v)}`).join(', ')
    return `PSI ${shown}${above.length > 3 ? ` (+${above.length - 3} more)` : ''} > ${threshold}`
  }
  return `PSI ${above.slice(0, 3).map(([f, v]) => `${f} ${fixed(v)} > ${fixed(limit(f))}`).join(', ')}${above.length > 3 ? ` (+${above.length - 3} more)` : ''}`
}

/** "MAE 2.31 = 1.80x validation in 2 of the last 3 windows; Page-Hinkley alarm in 1". */
function errorEvidence(flags: boolean[], windows: DriftEvidence['windows'], n: number): string {
  const recent = flags.slice(-n)
  const flagged = recent.filter(Boolean).length
  const counted = `${flagged} of the last ${recent.length} windows`
  const rows = windows?.slice(-n).filter((_, i) => recent[i])
  if (!rows || rows.length !== flagged || flagged === 0) return `drift in ${counted}`
  const mae = rows.reduce((a, w) => a + w.mae, 0) / rows.length
  const ratio = rows.reduce((a, w) => a + w.errorRatio, 0) / rows.length
  const alarms = rows.filter((w) => w.pageHinkleyAlarm).length
  return `MAE ${fixed(mae)} = ${fixed(ratio)}x validation in ${counted}${alarms ? `; Page-Hinkley alarm in ${alarms}` : ''}`
}

/**
 * Hysteresis: retrain only when the drift condition held in at least k of the last n windows, and
 * not within the cooldown after the last training; when the newest training is older than the
 * maximum age, a retrain is due anyway. `hoursSinceLastTraining` counts from the newest training,
 * a losing challenger's included: a drift that persists is retried once per cooldown, not at every
 * check, and a champion no challenger beats is challenged again once per maximum age.
 * Each further challenger in a row that loses multiplies that cooldown by `backoffFactor` (capped
 * at the maximum age): a change the history cannot yet teach is not retried every few days, unless
 * the champion's own errors are drifting (k of the last n windows flagged): then the plain cooldown.
 * Window PSI alone is a trigger only when the policy says so (`dataDriftRetrains`): a week of
 * weather against a year of training deciles exceeds the usual 0.25 in almost every week, so on
 * by default it would amount to retraining once per cooldown.
 */
export function decideRetrain(windowFlags: boolean[], modelAgeHours: number, policy: RetrainPolicy, hoursSinceLastTraining = modelAgeHours, evidence: DriftEvidence = {}): RetrainDecision {
  const psiNote = psiAbove(evidence.psi, policy.psiThreshold)
  const withPsi = (reason: string) => (psiNote ? `${reason}; ${psiNote}` : reason)
  const no = (reason: string): RetrainDecision => ({retrain: false, trigger: null, reason: withPsi(reason)})
  const recent = windowFlags.slice(-policy.n)
  const flagged = recent.filter(Boolean).length
  // A challenger that lost while the champion's errors keep rising is no reason to wait longer: the
  // back-off applies only while the champion holds up (it left the autumn transition unserved for weeks).
  const worsening = flagged >= policy.k
  const cooldown = worsening ? policy.cooldownHours : effectiveCooldownHours(policy)
  if (hoursSinceLastTraining < cooldown && hoursSinceLastTraining < modelAgeHours) {
    const losses = policy.losingChallengers ?? 0
    const backedOff = cooldown !== policy.cooldownHours ? `, backed off after ${losses} losing challengers in a row` : ''
    return no(`a challenger was trained ${hoursSinceLastTraining.toFixed(0)} h ago (cooldown ${cooldown} h${backedOff})`)
  }
  if (hoursSinceLastTraining >= policy.maxModelAgeHours) {
    const who = hoursSinceLastTraining < modelAgeHours ? 'the newest challenger' : 'the model'
    return {retrain: true, trigger: 'max_age', reason: withPsi(`${who} is ${hoursSinceLastTraining.toFixed(0)} h old (max ${policy.maxModelAgeHours} h)`)}
  }
  const errors = errorEvidence(windowFlags, evidence.windows, policy.n)
  if (flagged >= policy.k) {
    if (modelAgeHours < policy.cooldownHours) return no(`${errors}, but the model is ${modelAgeHours.toFixed(0)} h old (cooldown ${policy.cooldownHours} h)`)
    return {retrain: true, trigger: 'concept_drift', reason: withPsi(errors)}
  }
  const notEnough = `${errors} (need ${policy.k} of ${policy.n})`
  // Miscalibrated bands are label-based evidence the error distribution changed, even before the MAE shows it.
  if (evidence.coverage) {
    if (modelAgeHours < policy.cooldownHours) return no(`${notEnough}; ${evidence.coverage}, but the model is ${modelAgeHours.toFixed(0)} h old (cooldown ${policy.cooldownHours} h)`)
    return {retrain: true, trigger: 'concept_drift', reason: withPsi(`${evidence.coverage}; ${notEnough}`)}
  }
  if (psiNote && policy.dataDriftRetrains) {
    if (modelAgeHours < policy.cooldownHours) return no(`${notEnough}; data drift, but the model is ${modelAgeHours.toFixed(0)} h old (cooldown ${policy.cooldownHours} h)`)
    return {retrain: true, trigger: 'data_drift', reason: `data drift: ${psiNote}; ${notEnough}`}
  }
  return {retrain: false, trigger: null, reason: psiNote ? `${notEnough}; ${psiNote}, data drift alone does not retrain` : notEnough}
}
