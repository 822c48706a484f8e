import {Command, Flags} from '@oclif/core'

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

  /**
   * RpsErrors end the command with their own exit code and one unwrapped line on stderr
   * (`rps check: quality gate failed ...`), or an `{error}` object under --json.
   */
  protected async catch(err: Error & {exitCode?: number}): Promise<unknown> {
    if (!(err instanceof RpsError)) return super.catch(err)
    process.exitCode = err.exitCode
    if (this.jsonEnabled()) {
      this.logJson({error: {code: err.code, message: err.message, exitCode: err.exitCode, suggestions: err.suggestions}})
    } else {
      this.logToStderr(`rps ${this.id ?? ''}: ${err.message}`)
      for (const s of err.suggestions) this.logToStderr(`  hint: ${s}`)
    }
    return undefined
  }
}
