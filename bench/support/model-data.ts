import pl from 'nodejs-polars'

import type {ForestParams} from '../../src/lib/forest/forest.js'
import {type ModelSection, forestParams, modelSection} from '../../src/lib/model/settings.js'
import type {ModelRows} from '../../src/lib/model/dataset.js'
import type {Params} from '../../src/lib/config/params.js'

/** params.yaml's model section, and its hyperparameters as trainForest takes them (as rps train builds them). */
export function modelSectionOf(params: Params): ModelSection {
  return modelSection(params)
}

export function forestParamsOf(params: Params): ForestParams {
  return forestParams(modelSection(params))
}

/** Writes feature columns (model order) plus the label `y` to parquet, for the Python references. */
export function writeMatrix(path: string, rows: ModelRows, features: string[]): void {
  const columns: Record<string, pl.Series> = {}
  features.forEach((f, j) => {
    columns[f] = pl.Series(f, rows.X.map((r) => r[j]!), pl.Float64)
  })
  columns.y = pl.Series('y', rows.y, pl.Float64)
  pl.DataFrame(columns).writeParquet(path)
}
