import {Listr, ListrLogger, ProcessOutput} from 'listr2'

export interface Step<Ctx> {
  title: string
  run: (ctx: Ctx, report: (line: string) => void) => Promise<void>
}

/**
 * True when progress is a live task list (stderr is a terminal, not CI); otherwise the plain-lines
 * renderer prints every reported line itself, and colours are off (NO_COLOR) unless FORCE_COLOR asks.
 */
export function liveProgress(): boolean {
  const live = Boolean(process.stderr.isTTY) && process.env.CI !== 'true'
  // listr2 colours through util.styleText, which looks at stdout: a terminal stdout with a logged
  // stderr (CI, `make up 2> log`) would otherwise put escape codes in the log.
  if (!live && process.env.FORCE_COLOR === undefined) process.env.NO_COLOR ??= '1'
  return live
}

/**
 * Runs steps with listr2 progress on stderr: a live task list on a terminal, plain lines when
 * stderr is not a TTY (CI, Airflow logs), nothing under --json. The first failure stops the
 * rest and is rethrown unchanged, so commands exit with its code.
 */
export async function runSteps<Ctx extends object>(steps: Step<Ctx>[], ctx: Ctx, options: {quiet: boolean}): Promise<Ctx> {
  const logger = new ListrLogger({useIcons: false, processOutput: new ProcessOutput(process.stderr, process.stderr)})
  const list = new Listr<Ctx>(
    steps.map((step) => ({
      title: step.title,
      task: async (c, task) => {
        await step.run(c, (line) => {
          task.output = line
        })
      },
    })),
    {
      renderer: 'default',
      silentRendererCondition: options.quiet,
      fallbackRenderer: 'simple',
      fallbackRendererCondition: !liveProgress(),
      rendererOptions: {logger},
      fallbackRendererOptions: {logger},
      exitOnError: true,
      registerSignalListeners: false,
      collectErrors: false,
    },
  )
  return list.run(ctx)
}
