import {Command, Errors, Flags} from '@oclif/core'

import {type Params, loadParams} from '../config/params.js'
import {RpsError} from '../errors.js'

/** Shared flags and error handling for every rps command. */
export abstract class RpsCommand extends Command {
  static enableJsonFlag = true

  static baseFlags = {
    params: Flags.string({
      summary: 'Path to params.yaml (default: $RPS_PARAMS, ./params.yaml, then the repo\'s own).',
      helpGroup: 'GLOBAL',
    }),
  }

  protected loadParams(path: string | undefined): Params {
    return loadParams(path)
  }

  /** Progress and human output go to stderr; stdout carries only the --json result. */
  protected note(message: string): void {
    if (!this.jsonEnabled()) this.logToStderr(message)
  }

  protected async catch(err: Error & {exitCode?: number}): Promise<unknown> {
    if (err instanceof RpsError) {
      const cliError = new Errors.CLIError(err.message, {exit: err.exitCode, code: err.code, suggestions: err.suggestions})
      return super.catch(cliError as Errors.CLIError & {exitCode?: number})
    }
    return super.catch(err)
  }
}
