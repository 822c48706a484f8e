/** Exit codes shared by every command, so Airflow, CI and shells can tell failures apart. */
export const ExitCode = {
  failure: 1,
  usage: 2,
  qualityGate: 3,
  transport: 4,
  config: 5,
} as const

/**
 * An error a user can act on: a one-line message, a stable code and the exit status the
 * command ends with. Library code throws these; commands let them propagate.
 */
export class RpsError extends Error {
  readonly code: string
  readonly exitCode: number
  readonly suggestions: string[]

  constructor(message: string, options: {code: string; exitCode?: number; suggestions?: string[]; cause?: unknown}) {
    super(message, {cause: options.cause})
    this.name = 'RpsError'
    this.code = options.code
    this.exitCode = options.exitCode ?? ExitCode.failure
    this.suggestions = options.suggestions ?? []
  }
}

export class ConfigError extends RpsError {
  constructor(message: string, suggestions: string[] = []) {
    super(message, {code: 'CONFIG', exitCode: ExitCode.config, suggestions})
    this.name = 'ConfigError'
  }
}

export class TransportError extends RpsError {
  readonly status: number | undefined

  constructor(message: string, options: {status?: number; cause?: unknown; code?: string} = {}) {
    super(message, {code: options.code ?? 'TRANSPORT', exitCode: ExitCode.transport, cause: options.cause})
    this.name = 'TransportError'
    this.status = options.status
  }
}

export class QualityGateError extends RpsError {
  constructor(message: string) {
    super(message, {code: 'QUALITY_GATE', exitCode: ExitCode.qualityGate})
    this.name = 'QualityGateError'
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
