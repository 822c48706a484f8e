import {isAbsolute, relative, resolve} from 'node:path'

import {RpsError} from '../errors.js'

/**
 * `base/rel` when `rel` stays inside `base`; a registry- or file-supplied path that is absolute or
 * climbs out (`..`) is refused before anything is joined, read or written.
 */
export function containedPath(base: string, rel: string): string {
  const root = resolve(base)
  const full = resolve(root, rel)
  const inside = relative(root, full)
  if (rel === '' || isAbsolute(rel) || rel.includes('\0') || inside === '' || inside === '..' || inside.startsWith('../')  || isAbsolute(inside)) {
    throw new RpsError(`refusing the path '${rel}': it is not inside ${root}`, {code: 'PATH_OUTSIDE'})
  }
  return full
}
