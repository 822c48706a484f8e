/**
 * The serve benchmark's ceiling: a bare express JSON echo on the same stack as rps serve (express 5,
 * express.json, node:http), no validation, no model, no metrics.
 *   node dist/bench/support/echo-server.js   -> prints "listening on http://127.0.0.1:<port>" on stderr
 */
import express from 'express'
import {createServer} from 'node:http'

const app = express()
app.disable('x-powered-by')
app.set('etag', false)
app.post('/predict', express.json({limit: '1mb', strict: false, type: 'application/json'}), (req, res) => {
  res.json(req.body)
})
const server = createServer(app)
server.keepAliveTimeout = 5000
server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  console.error(`listening on http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`)
})
const stop = () => server.close(() => process.exit(0))
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
