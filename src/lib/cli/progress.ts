import {Listr, ListrLogger, ProcessOutput} from 'listr2'

export interface Step<Ctx> {
  title: string
  run: (ctx: Ctx, report: (line: string) => void) => Promise<void>
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
      fallbackRendererCondition: !process.stderr.isTTY || process.env.CI === 'true',
      rendererOptions: {logger},
      fallbackRendererOptions: {logger},
      exitOnError: true,
      registerSignalListeners: false,
      collectErrors: false,
    },
  )
  return list.run(ctx)
}
