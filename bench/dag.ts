import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {join} from 'node:path'

import {type BenchContext, type BenchOutput, ROOT, fmt, round} from './support/common.js'

const AIRFLOW_PYTHON = join(ROOT, '.rps/venv-airflow/bin/python')
const TEST = 'tests/test_dag_run.py::test_replay_run_succeeds_and_records_data_and_model'

function skip(reason: string, config: Record<string, unknown> = {}): BenchOutput {
  return {skipped: reason, config, results: {}, targets: {}, met: {}, table: [{metric: 'skipped', value: reason.slice(0, 160)}]}
}

/**
 * Wall time of one `airflow dags test rps_pipeline` run on the replay source with a year of history
 * (run conf backfill_days 365), excluding service start. It reuses the DAG integration test's fixtures
 * (airflow_dags/tests/conftest.py): a scratch git+DVC project, MinIO and MLflow on free ports, a
 * private AIRFLOW_HOME, all started before and stopped after the timed run; the test times
 * `dags test` alone and prints the per-task times parsed from the [DAG TEST] log lines.
 */
export async function run(ctx: BenchContext): Promise<BenchOutput> {
  const needed: [string, string][] = [
    ['airflow_dags/rps_pipeline.py', 'the DAG'],
    ['scripts/airflow.sh', 'the Airflow service script'],
    ['airflow_dags/tests/test_dag_run.py', 'the DAG run test whose fixtures start MinIO/MLflow and a scratch project'],
    ['.rps/venv-airflow/bin/python', 'the Airflow venv (scripts/install-airflow.sh)'],
    ['.rps/venv/bin/dvc', 'the stack venv with DVC (scripts/install-python.sh)'],
  ]
  for (const [path, what] of needed) {
    if (!existsSync(join(ROOT, path))) return skip(`${path} missing (${what})`)
  }
  const config = {
    command: `cd airflow_dags && ${AIRFLOW_PYTHON} -m pytest ${TEST} -s`,
    run: 'airflow dags test rps_pipeline 2026-04-10T00:00:00+00:00 --conf {"backfill_days": 365}, RPS_SOURCE=replay, RPS_DAG_RETRIES=0',
    excluded: 'MinIO + MLflow start, scratch project setup, airflow db migrate (pytest fixtures, before the timed run)',
  }
  ctx.log(`dag: ${config.command}`)
  const started = performance.now()
  const {code, output} = await new Promise<{code: number | null; output: string}>((resolveRun) => {
    const child = spawn(AIRFLOW_PYTHON, ['-m', 'pytest', TEST, '-s', '-p', 'no:cacheprovider'], {cwd: join(ROOT, 'airflow_dags'), stdio: ['ignore', 'pipe', 'pipe']})
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (out += d.toString()))
    const timer = setTimeout(() => child.kill('SIGTERM'), 40 * 60_000)
    child.once('close', (c) => {
      clearTimeout(timer)
      resolveRun({code: c, output: out})
    })
  })
  const totalSeconds = round((performance.now() - started) / 1000, 1)
  const line = /airflow dags test rps_pipeline (\S+): exit (-?\d+) in ([\d.]+) s; (.*)$/m.exec(output)
  if (!line) return skip(`the DAG run test did not run the DAG (pytest exit ${code}): ${output.slice(-1500)}`, config)
  const exit = Number(line[2])
  const wall = Number(line[3])
  const tasks = Object.fromEntries([...line[4]!.matchAll(/(\w+) ([\d.]+) s/g)].map((m) => [m[1]!, Number(m[2])]))
  if (exit !== 0 || code !== 0) {
    return skip(`the DAG run failed or its checks did (dags test exit ${exit}, pytest exit ${code}; ${wall} s): ${output.slice(-1500)}`, {...config, wallSeconds: wall, tasks})
  }
  const taskSum = Object.values(tasks).reduce((a, b) => a + b, 0)
  return {
    config,
    results: {
      logicalDate: line[1], wallSeconds: wall, taskSeconds: tasks, taskSumSeconds: round(taskSum, 1),
      airflowOverheadSeconds: round(wall - taskSum, 1), pytestTotalSecondsWithServiceStart: totalSeconds,
    },
    targets: {wallSeconds: 'reported only (no target set)'},
    met: {},
    table: [
      {metric: 'dags test wall (s), services excluded', value: fmt(wall, 1)},
      {metric: 'tasks (s)', value: Object.entries(tasks).map(([t, s]) => `${t} ${fmt(s, 1)}`).join(', ')},
      {metric: 'sum of tasks / Airflow overhead (s)', value: `${fmt(taskSum, 1)} / ${fmt(wall - taskSum, 1)}`},
      {metric: 'whole pytest incl. service start (s)', value: fmt(totalSeconds, 1)},
    ],
  }
}
