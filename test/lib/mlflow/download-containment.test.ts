import {strict as assert} from 'node:assert'
import {existsSync} from 'node:fs'
import {mkdtemp} from 'node:fs/promises'
import {type Server, createServer} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {MlflowClient} from '../../../src/lib/mlflow/client.js'

/** A tracking server stub whose artifact listing names `paths` (the only route a download needs first). */
async function listingServer(paths: string[]): Promise<{server: Server; url: string; downloads: string[]}> {
  const downloads: string[] = []
  const server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x')
    if (url.pathname === '/api/2.0/mlflow-artifacts/artifacts') {
      res.writeHead(200, {'Content-Type': 'application/json'}).end(JSON.stringify({files: paths.map((path) => ({path, is_dir: false, file_size: 2}))}))
    } else {
      downloads.push(url.pathname)
      res.writeHead(200, {'Content-Type': 'application/octet-stream'}).end('{}')
    }
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {server, url: `http://127.0.0.1:${(server.address() as {port: number}).port}`, downloads}
}

describe('downloading a registry artifact directory', () => {
  it('when the listing names a path that climbs out of the destination, then nothing is downloaded or written', async () => {
    const stub = await listingServer(['forest.json', '../../escaped.json'])
    try {
      const base = await mkdtemp(join(tmpdir(), 'rps-contain-'))
      const dest = join(base, 'a', 'model')
      const client = new MlflowClient({trackingUri: stub.url, attempts: 1})
      await assert.rejects(client.downloadDirectory('mlflow-artifacts:/1/run/artifacts/model', '', dest), {code: 'PATH_OUTSIDE', message: /refusing the path '\.\.\/\.\.\/escaped\.json'/})
      assert.equal(existsSync(join(base, 'escaped.json')), false)
      assert.deepEqual(stub.downloads, ['/api/2.0/mlflow-artifacts/artifacts/1/run/artifacts/model/forest.json'])
    } finally {
      stub.server.close()
    }
  })

  it('when the listing of a sub-folder names a path that climbs out of it, then it is refused', async () => {
    const stub = await listingServer(['../../../x.json'])
    try {
      const dest = join(await mkdtemp(join(tmpdir(), 'rps-contain-')), 'model')
      const client = new MlflowClient({trackingUri: stub.url, attempts: 1})
      await assert.rejects(client.downloadDirectory('mlflow-artifacts:/1/run/artifacts/model', 'sub', dest), {code: 'PATH_OUTSIDE'})
      assert.deepEqual(stub.downloads, [])
    } finally {
      stub.server.close()
    }
  })
})
