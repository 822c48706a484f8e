import {writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {loadParams} from '../../src/lib/config/params.js'
import {featureNames} from '../../src/lib/features/build-features.js'
import {featureConfig} from '../../src/lib/features/config.js'
import type {ForestJson} from '../../src/lib/forest/forest-core.js'
import {computeDigests} from '../../src/lib/model/digests.js'
import {MODEL_FORMAT, type ModelMeta, writeModelDir} from '../../src/lib/model/model-dir.js'
import {REGISTRY_STAMP_FILE, type RegistryStamp} from '../../src/lib/model/registry.js'
import {ROOT} from './rps.js'

/** A forest of one leaf: every prediction is `value` (delta mode: current + value). */
export function leafForest(value: number): ForestJson {
  return {name: 'RFRegression', selectionMethod: 'mean', baseModel: {estimators: [{root: {distribution: value}}], indexes: [[0]], nEstimators: 1}} as unknown as ForestJson
}

/** The metadata of params.yaml's features with wide training ranges: enough for the server, no training needed. */
export function tinyMeta(name = 'rps-temperature'): ModelMeta {
  const cfg = featureConfig(loadParams(join(ROOT, 'params.yaml')))
  const features = featureNames(cfg)
  const stats = Object.fromEntries(features.map((f) => [f, {min: -1e6, max: 1e6, p01: -1, p99: 1, mean: 0, std: 1, deciles: []}]))
  return {
    format: MODEL_FORMAT, name, target: cfg.target, horizonHours: cfg.horizonHours, targetMode: cfg.targetMode, features, featureConfig: cfg,
    trainingStats: stats, hyperparameters: {}, metrics: {}, split: {trainRows: 0, validationRows: 0, holdoutRows: 0, validationStart: '', holdoutStart: '', end: ''},
    dataVersion: 'test', codeVersion: 'test', trainedAt: '2026-01-01T00:00:00.000Z', trainingSeconds: 0, rpsVersion: 'test',
  }
}

/** A model directory answering `value`; with `stamp`, a registry.json recording its digests (as rps export-model writes). */
export async function writeTinyModel(dir: string, value: number, stamp?: Omit<RegistryStamp, 'digests'>): Promise<void> {
  await writeModelDir(dir, leafForest(value), tinyMeta())
  if (stamp) await writeFile(join(dir, REGISTRY_STAMP_FILE), JSON.stringify({...stamp, digests: await computeDigests(dir)}))
}
