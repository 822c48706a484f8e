export interface Scores {
  rmse: number
  mae: number
  r2: number
  n: number
}

export function score(actual: number[], predicted: number[]): Scores {
  const n = actual.length
  if (n === 0 || predicted.length !== n) throw new Error(`cannot score ${predicted.length} predictions against ${n} actual values`)
  let se = 0
  let ae = 0
  let sum = 0
  for (let i = 0; i < n; i++) {
    const e = predicted[i]! - actual[i]!
    se += e * e
    ae += Math.abs(e)
    sum += actual[i]!
  }
  const mean = sum / n
  let tss = 0
  for (const a of actual) tss += (a - mean) ** 2
  return {rmse: Math.sqrt(se / n), mae: ae / n, r2: tss === 0 ? 0 : 1 - se / tss, n}
}

/** Skill vs a reference forecast: 1 - RMSE_model / RMSE_reference (1 perfect, 0 no better, < 0 worse). */
export function skill(model: Scores, reference: Scores): number {
  return reference.rmse === 0 ? 0 : 1 - model.rmse / reference.rmse
}
