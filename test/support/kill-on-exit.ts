import type {ChildProcess} from 'node:child_process'

const alive = new Map<ChildProcess, NodeJS.Signals>()
let hooked = false

/**
 * Kills the child when the test process exits. One 'exit' listener for all children: a listener per
 * child made Node warn (MaxListenersExceededWarning) once a run had started more than ten servers.
 */
export function killOnExit(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): void {
  if (!hooked) {
    hooked = true
    process.on('exit', () => {
      for (const [c, s] of alive) c.kill(s)
    })
  }
  alive.set(child, signal)
  child.once('exit', () => alive.delete(child))
}
