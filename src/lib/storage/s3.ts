import {
  CreateBucketCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException,
} from '@aws-sdk/client-s3'
import {createHash} from 'node:crypto'
import {readFile} from 'node:fs/promises'

import {ConfigError, TransportError, errorMessage} from '../errors.js'
import {writeFileAtomic} from '../util/atomic-file.js'

export interface S3Settings {
  endpoint: string | undefined
  region: string
  bucket: string
  accessKeyId: string | undefined
  secretAccessKey: string | undefined
}

/** S3 settings from the environment; any S3-compatible store (MinIO, AWS) works by configuration. */
export function s3Settings(env: NodeJS.ProcessEnv = process.env): S3Settings {
  return {
    endpoint: env.RPS_S3_ENDPOINT || undefined,
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    bucket: env.RPS_S3_BUCKET ?? 'rps-data',
    accessKeyId: env.AWS_ACCESS_KEY_ID,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
  }
}

export function s3Client(settings: S3Settings): S3Client {
  if (!settings.accessKeyId || !settings.secretAccessKey) {
    throw new ConfigError('S3 credentials missing: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (see .env.example)')
  }
  return new S3Client({
    endpoint: settings.endpoint,
    region: settings.region,
    forcePathStyle: true,
    maxAttempts: 3,
    credentials: {accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey},
  })
}

function describe(error: unknown, what: string, settings: S3Settings): TransportError {
  if (error instanceof S3ServiceException) {
    return new TransportError(`${what}: S3 error ${error.name} (HTTP ${error.$metadata.httpStatusCode ?? '?'}): ${error.message}`, {status: error.$metadata.httpStatusCode, code: 'S3_ERROR'})
  }
  const code = (error as {code?: string}).code
  const reason = code === 'ECONNREFUSED' ? 'connection refused' : errorMessage(error)
  return new TransportError(`${what}: S3 endpoint ${settings.endpoint ?? 'AWS'} unreachable (${reason})`, {code: 'S3_UNREACHABLE', cause: error})
}

export interface UploadResult {
  key: string
  bytes: number
  md5: string
}

/**
 * Uploads a file and verifies it: S3 checks the Content-MD5 we send, and we compare the stored
 * object's size and ETag (the MD5 of a single-part upload) with the local file.
 */
export async function uploadFile(client: S3Client, settings: S3Settings, key: string, path: string, contentType = 'application/octet-stream'): Promise<UploadResult> {
  const body = await readFile(path)
  const md5 = createHash('md5').update(body).digest()
  try {
    await client.send(new PutObjectCommand({Bucket: settings.bucket, Key: key, Body: body, ContentMD5: md5.toString('base64'), ContentType: contentType}))
    const head = await client.send(new HeadObjectCommand({Bucket: settings.bucket, Key: key}))
    const etag = (head.ETag ?? '').replaceAll('"', '')
    if (head.ContentLength !== body.length || etag !== md5.toString('hex')) {
      throw new TransportError(`upload of ${path} to s3://${settings.bucket}/${key} did not verify (size ${head.ContentLength} vs ${body.length}, etag ${etag} vs ${md5.toString('hex')})`, {code: 'S3_VERIFY'})
    }
  } catch (error) {
    if (error instanceof TransportError) throw error
    throw describe(error, `upload of ${path} to s3://${settings.bucket}/${key} failed`, settings)
  }
  return {key, bytes: body.length, md5: md5.toString('hex')}
}

/** Downloads an object to `dest` atomically and returns its MD5. */
export async function downloadFile(client: S3Client, settings: S3Settings, key: string, dest: string): Promise<{bytes: number; md5: string}> {
  try {
    const response = await client.send(new GetObjectCommand({Bucket: settings.bucket, Key: key}))
    const bytes = await response.Body!.transformToByteArray()
    await writeFileAtomic(dest, bytes)
    return {bytes: bytes.length, md5: createHash('md5').update(bytes).digest('hex')}
  } catch (error) {
    throw describe(error, `download of s3://${settings.bucket}/${key} failed`, settings)
  }
}

export async function listKeys(client: S3Client, settings: S3Settings, prefix: string): Promise<string[]> {
  const keys: string[] = []
  let token: string | undefined
  try {
    do {
      const page = await client.send(new ListObjectsV2Command({Bucket: settings.bucket, Prefix: prefix, ContinuationToken: token}))
      for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key)
      token = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (token)
  } catch (error) {
    throw describe(error, `listing s3://${settings.bucket}/${prefix} failed`, settings)
  }
  return keys
}

/** Creates the bucket when it does not exist (idempotent). */
export async function ensureBucket(client: S3Client, settings: S3Settings): Promise<void> {
  try {
    await client.send(new HeadBucketCommand({Bucket: settings.bucket}))
  } catch (error) {
    if (error instanceof S3ServiceException && (error.$metadata.httpStatusCode === 404 || error.name === 'NotFound')) {
      try {
        await client.send(new CreateBucketCommand({Bucket: settings.bucket}))
        return
      } catch (createError) {
        throw describe(createError, `creating bucket ${settings.bucket} failed`, settings)
      }
    }
    throw describe(error, `bucket ${settings.bucket} is not reachable`, settings)
  }
}
