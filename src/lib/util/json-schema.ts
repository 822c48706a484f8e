import {Ajv, type ErrorObject, type ValidateFunction} from 'ajv'
import addFormatsModule from 'ajv-formats'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {projectRoot} from './project.js'

// One Ajv instance for the process: schemas compile once and can reference each other by $id.
const ajv = new Ajv({allErrors: true, strict: false})
const addFormats = addFormatsModule as unknown as (a: Ajv) => Ajv
addFormats(ajv)

const compiled = new Map<string, ValidateFunction>()

/** Compiles (once) a schema file from the repo's schemas/ folder. */
export function schemaValidator(file: string): ValidateFunction {
  let validate = compiled.get(file)
  if (!validate) {
    const schema = JSON.parse(readFileSync(join(projectRoot(), 'schemas', file), 'utf8')) as object
    validate = ajv.compile(schema)
    compiled.set(file, validate)
  }
  return validate
}

/** Ajv errors as short human lines: `/hourly/time: must be array`. */
export function describeSchemaErrors(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => {
    const where = e.instancePath || '(root)'
    const extra = e.keyword === 'additionalProperties' ? ` '${String(e.params.additionalProperty)}'` : ''
    return `${where}: ${e.message ?? e.keyword}${extra}`
  })
}
