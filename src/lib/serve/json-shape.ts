/**
 * One pass over a raw JSON body before JSON.parse: the most keys in one object and the deepest
 * nesting and the longest array. JSON.parse is fast per byte except on very wide objects (each new key a new hidden
 * class: 60,000 keys in 650 KB took 200-700 ms) and very deep nesting (the validators recurse),
 * so all three are bounded here, in linear time. Returns the problem, or undefined.
 */
export function jsonShapeProblem(body: Uint8Array, maxKeys: number, maxDepth: number, maxItems: number): string | undefined {
  const keys = new Int32Array(maxDepth + 1)
  const commas = new Int32Array(maxDepth + 1)
  let depth = 0
  let inString = false
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
      continue
    }
    switch (c) {
      case 0x22:
        inString = true
        break
      case 0x7b: // {
      case 0x5b: // [
        if (++depth > maxDepth) return `JSON nested deeper than ${maxDepth} levels`
        keys[depth] = c === 0x7b ? 0 : -1
        commas[depth] = 0
        break
      case 0x2c: // ,
        if (keys[depth]! < 0 && ++commas[depth]! >= maxItems) return `a JSON array with more than ${maxItems} items`
        break
      case 0x7d: // }
      case 0x5d: // ]
        depth = Math.max(0, depth - 1)
        break
      case 0x3a: // :
        if (keys[depth]! >= 0 && ++keys[depth]! > maxKeys) return `a JSON object with more than ${maxKeys} keys`
        break
    }
  }
  return undefined
}
