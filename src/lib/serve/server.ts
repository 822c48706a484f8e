import {type RequestListener, type Server, createServer} from 'node:http'

export interface RunningServer {
  server: Server
  url: string
  /** Stop accepting, let in-flight requests finish (up to `graceMs`), then close. */
  shutdown(graceMs?: number): Promise<void>
}

export async function listen(app: RequestListener, host: string, port: number): Promise<RunningServer> {
  const server = createServer(app)
  server.keepAliveTimeout = 5000
  server.requestTimeout = 30_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const address = server.address()
  const actualPort = typeof address === 'object' && address ? address.port : port
  return {
    server,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`,
    shutdown: (graceMs = 10_000) => new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        server.closeAllConnections()
        resolve()
      }, graceMs)
      force.unref()
      server.close(() => {
        clearTimeout(force)
        resolve()
      })
      server.closeIdleConnections()
    }),
  }
}
