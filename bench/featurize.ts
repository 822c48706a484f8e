import {mkdir} from 'node:fs/promises'
import {join} from 'node:path'

import {BENCH_DIST, type BenchContext, type BenchOutput, fmt, lastJsonLine, median, round, runCommand} from './support/common.js'

/** Years of hourly rows: the shipped replay year, tiled (each tile shifted by 365 days). 20 y shows the per-row slope once fixed costs fade. */
const SIZES = [1, 5, 20]
/** Runs per child process: run 0 is cold (a fresh process, as `rps featurize` runs), the rest warm. */
const RUNS = 4

interface ChildResult {
  years: number
  inputRows: number
  baseline: {rssMiB: number; heapUsedMiB: number}
  peakRssAfterColdMiB: number
  peakRssAllRunsMiB: number
  heapAtStages: Record<string, number>
  runs: {stages: Record<string, number>; totalSeconds: number; cpuSeconds: number; datasetRows: number; historyRows: number}[]
}

/**
 * featurize's path (merge -> regularize -> buildFeatures -> trainingRows -> parquet writes of the
 * dataset and the observation history) on 1 and 5 years of hourly rows, one child process per size.
 */
export async function run(ctx: BenchContext): Promise<BenchOutput> {
  const perSize: Record<string, unknown>[] = []
  const bySize = new Map<number, {cold: number; warm: number; peakRss: number; result: ChildResult}>()
  for (const years of SIZES) {
    const out = join(ctx.tmp, `y${years}`)
    await mkdir(out, {recursive: true})
    ctx.log(`featurize: ${years} year(s) in a child process, ${RUNS} runs`)
    const {stdout} = await runCommand(process.execPath, ['--expose-gc', join(BENCH_DIST, 'support/featurize-child.js'), String(years), String(RUNS), out], {timeoutMs: 600_000})
    const result = lastJsonLine<ChildResult>(stdout)
    const cold = result.runs[0]!.totalSeconds
    const warm = median(result.runs.slice(1).map((r) => r.totalSeconds))
    const stageNames = Object.keys(result.runs[0]!.stages)
    bySize.set(years, {cold, warm, peakRss: result.peakRssAfterColdMiB, result})
    perSize.push({
      years,
      inputRows: result.inputRows,
      datasetRows: result.runs[0]!.datasetRows,
      coldSeconds: cold,
      warmMedianSeconds: round(warm, 4),
      coldCpuSeconds: result.runs[0]!.cpuSeconds,
      coldStagesSeconds: result.runs[0]!.stages,
      warmMedianStagesSeconds: Object.fromEntries(stageNames.map((s) => [s, round(median(result.runs.slice(1).map((r) => r.stages[s]!)), 4)])),
      microsecondsPerRowWarm: round((warm / result.inputRows) * 1e6, 2),
      memory: {
        baselineRssMiB: result.baseline.rssMiB,
        peakRssMiB: result.peakRssAfterColdMiB,
        peakRssAboveBaselineMiB: round(result.peakRssAfterColdMiB - result.baseline.rssMiB, 1),
        baselineHeapUsedMiB: result.baseline.heapUsedMiB,
        heapUsedAtStageEndsMiB: result.heapAtStages,
        peakHeapUsedAtStageEndsMiB: Math.max(...Object.values(result.heapAtStages)),
      },
      runs: result.runs,
    })
  }
  const one = bySize.get(1)!
  const five = bySize.get(5)!
  const twenty = bySize.get(20)!
  const linearityCold = five.cold / one.cold / 5
  const linearityWarm = five.warm / one.warm / 5
  const rowsOf = (s: {result: ChildResult}) => s.result.inputRows
  /** Cost of one more row, with the fixed costs differenced out. */
  const marginalUs = (a: typeof one, b: typeof one) => round(((b.warm - a.warm) / (rowsOf(b) - rowsOf(a))) * 1e6, 2)
  return {
    config: {
      sizesYears: SIZES, runsPerSize: RUNS,
      data: 'data/replay/greensboro-nc.csv (8,760 hourly rows) tiled, tile k shifted by k x 365 days; one observation batch per tile',
      window: 'all rows kept (rps featurize itself keeps history.window_days = 365 of them)',
      stages: 'mergeObservations -> regularize -> buildFeatures -> trainingRows -> writeParquet(dataset) + writeParquet(observations), zstd',
      memory: 'one child process per size; peak RSS = process.resourceUsage().maxRSS after the cold run; heap = v8 heapUsed at each stage end of the cold run (a lower bound of the heap peak); baseline = after loading the input and gc()',
    },
    results: {
      sizes: perSize,
      linearity: {
        coldRatio: round(linearityCold, 3),
        warmRatio: round(linearityWarm, 3),
        definition: 'time(5y) / time(1y) / 5: 1 = linear, < 1 = sublinear (fixed costs), > 1 = superlinear',
        warmRatio20vs5: round(twenty.warm / five.warm / 4, 3),
        marginalMicrosecondsPerRowWarm: {from1to5y: marginalUs(one, five), from5to20y: marginalUs(five, twenty)},
      },
    },
    targets: {
      oneYearSeconds: '< 2 s (cold: a fresh process, as rps featurize runs)',
      linearity: 'time(5y)/time(1y)/5 ~ 1 (taken as <= 1.25, on warm runs)',
    },
    met: {
      oneYearSeconds: one.cold < 2,
      linearity: linearityWarm <= 1.25,
    },
    table: [
      {metric: '1y cold / warm (s)', value: `${fmt(one.cold, 3)} / ${fmt(one.warm, 3)}`, target: '< 2 s', met: one.cold < 2},
      {metric: '5y cold / warm (s)', value: `${fmt(five.cold, 3)} / ${fmt(five.warm, 3)}`},
      {metric: '20y cold / warm (s)', value: `${fmt(twenty.cold, 3)} / ${fmt(twenty.warm, 3)}`},
      {metric: 'linearity t5/t1/5 cold / warm', value: `${fmt(linearityCold, 2)} / ${fmt(linearityWarm, 2)}`, target: '~1 (<= 1.25)', met: linearityWarm <= 1.25},
      {metric: 'linearity t20/t5/4 warm', value: fmt(twenty.warm / five.warm / 4, 2)},
      {metric: 'marginal us/row 1->5y / 5->20y', value: `${fmt(marginalUs(one, five), 2)} / ${fmt(marginalUs(five, twenty), 2)}`},
      {metric: 'peak RSS 1y / 5y / 20y (MiB)', value: [one, five, twenty].map((s) => fmt(s.peakRss, 0)).join(' / ')},
      {metric: 'RSS above baseline 1y / 5y / 20y (MiB)', value: [one, five, twenty].map((s) => fmt(s.peakRss - s.result.baseline.rssMiB, 0)).join(' / ')},
      {metric: 'peak heap at stage ends 1y / 5y / 20y (MiB)', value: [one, five, twenty].map((s) => fmt(Math.max(...Object.values(s.result.heapAtStages)), 0)).join(' / ')},
    ],
  }
}
