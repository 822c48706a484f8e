import type {MlflowClient} from '../mlflow/client.js'
import type {DriftReport} from './detect.js'

/** Records a drift check as its own MLflow run (tag rps.kind=drift): the numbers and both report files. */
export async function logDriftRun(client: MlflowClient, experimentName: string, report: DriftReport, files: {json: string; html: string}, context: {triggeredBy?: string} = {}): Promise<string> {
  const experiment = await client.getOrCreateExperiment(experimentName)
  const run = await client.createRun(experiment.experiment_id, `drift-${report.window.end.slice(0, 16)}`, {
    'rps.kind': 'drift', 'rps.retrain': String(report.decision.retrain), 'rps.retrain_reason': report.decision.reason.slice(0, 4000),
    'rps.retrain_trigger': report.decision.trigger ?? 'none', ...(context.triggeredBy ? {'rps.triggered_by': context.triggeredBy.slice(0, 4000)} : {}),
  })
  const now = Date.now()
  await client.logBatch(run.run_id, {
    metrics: [
      {key: 'window_mae', value: report.overall.mae, timestamp: now, step: 0},
      {key: 'error_ratio', value: report.overall.errorRatio, timestamp: now, step: 0},
      {key: 'model_age_hours', value: report.modelAgeHours, timestamp: now, step: 0},
      {key: 'flagged_chunks', value: report.chunks.filter((c) => c.flagged).length, timestamp: now, step: 0},
      ...Object.entries(report.overall.psi).map(([f, v]) => ({key: `psi_${f}`, value: v, timestamp: now, step: 0})),
    ],
  })
  await client.uploadArtifact(run.artifact_uri, files.json, 'drift/drift.json')
  await client.uploadArtifact(run.artifact_uri, files.html, 'drift/drift.html')
  await client.terminateRun(run.run_id, 'FINISHED')
  return run.run_id
}
