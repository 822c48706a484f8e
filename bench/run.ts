/**
 * Benchmark runner: `npm run bench` runs them all, `npm run bench -- featurize train` the named ones.
 * Each benchmark is bench/<name>.ts exporting `run(ctx)`; its result goes to bench/results/<name>.json
 * as {name, date, machine, config, results, targets, met}. Targets are reported, never asserted:
 * the exit code is non-zero only when a benchmark fails to run.
 */
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {BENCH_SRC, type BenchFn, type BenchOutput, type TableRow, machineInfo, round} from './support/common.js'

export const BENCHMARKS = ['featurize', 'train', 'serve', 'dag', 'simulate', 'container', 'horizons'] as const

function printTable(name: string, rows: TableRow[]): void {
  const cells = rows.map((r) => [r.metric, r.value, r.target ?? '', r.met === undefined ? '' : r.met === null ? 'n/a' : r.met ? 'yes' : 'NO'])
  const header = ['metric', 'value', 'target', 'met']
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i]!)).join('  ').trimEnd()
  console.log(`\n== ${name}`)
  console.log(line(header))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const c of cells) console.log(line(c))
}

async function main(): Promise<number> {
  const args = process.argv.slice(2).filter((a) => !a.startsWith('-'))
  const unknown = args.filter((a) => !(BENCHMARKS as readonly string[]).includes(a))
  if (unknown.length) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}; available: ${BENCHMARKS.join(', ')}`)
    return 2
  }
  const names = args.length ? args : [...BENCHMARKS]
  const resultsDir = join(BENCH_SRC, 'results')
  await mkdir(resultsDir, {recursive: true})
  let failed = 0
  for (const name of names) {
    const log = (line: string) => console.error(`[bench ${name}] ${new Date().toISOString().slice(11, 19)} ${line}`)
    const tmp = await mkdtemp(join(tmpdir(), `rps-bench-${name}-`))
    const machine = machineInfo()
    const date = new Date().toISOString()
    const started = performance.now()
    let output: BenchOutput
    try {
      const mod = (await import(`./${name}.js`)) as {run: BenchFn}
      output = await mod.run({tmp, log})
    } catch (error) {
      failed++
      console.error(`[bench ${name}] FAILED: ${(error as Error).stack ?? String(error)}`)
      continue
    } finally {
      await rm(tmp, {recursive: true, force: true})
    }
    const record = {
      name, date, machine: {...machine, loadavgAfter: machineInfo().loadavg},
      durationSeconds: round((performance.now() - started) / 1000, 1),
      ...(output.skipped ? {skipped: output.skipped} : {}),
      config: output.config, results: output.results, targets: output.targets, met: output.met,
    }
    const file = join(resultsDir, `${name}.json`)
    await writeFile(file, JSON.stringify(record, null, 2) + '\n')
    printTable(`${name}${output.skipped ? ` (skipped: ${output.skipped})` : ''} (${record.durationSeconds} s) -> ${file}`, output.table)
  }
  return failed ? 1 : 0
}

process.exitCode = await main()
