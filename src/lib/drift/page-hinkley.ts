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
}

export interface RetrainDecision {
  retrain: boolean
  reason: string
}

/**
 * Hysteresis: retrain only when the drift condition held in at least k of the last n windows, and
 * not within the cooldown after the last training; when the newest training is older than the
 * maximum age, a retrain is due anyway. `hoursSinceLastTraining` counts from the newest training,
 * a losing challenger's included: a drift that persists is retried once per cooldown, not at every
 * check, and a champion no challenger beats is challenged again once per maximum age.
 */
export function decideRetrain(windowFlags: boolean[], modelAgeHours: number, policy: RetrainPolicy, hoursSinceLastTraining = modelAgeHours): RetrainDecision {
  if (hoursSinceLastTraining < policy.cooldownHours && hoursSinceLastTraining < modelAgeHours) {
    return {retrain: false, reason: `a challenger was trained ${hoursSinceLastTraining.toFixed(0)} h ago (cooldown ${policy.cooldownHours} h)`}
  }
  if (hoursSinceLastTraining >= policy.maxModelAgeHours) {
    return {retrain: true, reason: `${hoursSinceLastTraining < modelAgeHours ? 'the newest challenger' : 'the model'} is ${hoursSinceLastTraining.toFixed(0)} h old (max ${policy.maxModelAgeHours} h)`}
  }
  const recent = windowFlags.slice(-policy.n)
  const flagged = recent.filter(Boolean).length
  if (flagged < policy.k) return {retrain: false, reason: `drift in ${flagged} of the last ${recent.length} windows (need ${policy.k} of ${policy.n})`}
  if (modelAgeHours < policy.cooldownHours) return {retrain: false, reason: `drift in ${flagged} of ${recent.length} windows, but the model is ${modelAgeHours.toFixed(0)} h old (cooldown ${policy.cooldownHours} h)`}
  return {retrain: true, reason: `drift in ${flagged} of the last ${recent.length} windows`}
}
