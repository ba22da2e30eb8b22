/**
 * Verification of AWS Signature Version 4 on requests to the local API gateway: the local cloud's
 * own implementation of what API Gateway does before IAM is asked (the canonical request, the string
 * to sign, the derived signing key, a constant-time comparison, and the request time within 15
 * minutes). The AWS proxy in front of moto only reads the access key; the API checks the signature
 * itself, because a caller there may be anybody on the machine with a key id.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

const ALGORITHM = 'AWS4-HMAC-SHA256';
/** How far a request's `X-Amz-Date` may be from now. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

export interface SignedRequest {
  readonly method: string;
  /** The path as sent (still percent-encoded), without the query. */
  readonly rawPath: string;
  /** The query as sent, without `?`. */
  readonly rawQuery: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export type SigV4Check =
  | {
      readonly ok: true;
      readonly accessKeyId: string;
      readonly sessionToken: string | undefined;
    }
  | { readonly ok: false; readonly status: 401 | 403; readonly reason: string };

interface ParsedAuthorization {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

function parseAuthorization(header: string): ParsedAuthorization | string {
  if (!header.startsWith(`${ALGORITHM} `)) return `the Authorization header does not use ${ALGORITHM}`;
  const fields = new Map<string, string>();
  for (const part of header.slice(ALGORITHM.length + 1).split(',')) {
    const [name, ...rest] = part.trim().split('=');
    if (name !== undefined && rest.length > 0) fields.set(name, rest.join('='));
  }
  const credential = fields.get('Credential')?.split('/');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credential?.length !== 5 || signedHeaders === undefined || signature === undefined) {
    return 'the Authorization header lacks Credential=<key>/<date>/<region>/<service>/aws4_request, SignedHeaders or Signature';
  }
  const [accessKeyId = '', date = '', region = '', service = '', terminator] = credential;
  if (terminator !== 'aws4_request') return 'the credential scope does not end in aws4_request';
  return { accessKeyId, date, region, service, signedHeaders: signedHeaders.split(';'), signature };
}

/** RFC 3986 encoding as SigV4 wants it (encodeURIComponent plus `!'()*`). */
function strictEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
}

/** Each segment of the path as sent, encoded once more (the SigV4 rule for every service but S3). */
export function canonicalPath(rawPath: string): string {
  const segments: string[] = [];
  for (const segment of rawPath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const path = `/${segments.map(strictEncode).join('/')}`;
  return rawPath.endsWith('/') && path !== '/' ? `${path}/` : path;
}

export function canonicalQuery(rawQuery: string): string {
  if (rawQuery === '') return '';
  const pairs = rawQuery
    .split('&')
    .filter((p) => p !== '')
    .map((pair) => {
      const at = pair.indexOf('=');
      const key = at < 0 ? pair : pair.slice(0, at);
      const value = at < 0 ? '' : pair.slice(at + 1);
      return [strictEncode(safeDecode(key)), strictEncode(safeDecode(value))] as const;
    })
    .filter(([key]) => key !== 'X-Amz-Signature');
  pairs.sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([key, value]) => `${key}=${value}`).join('&');
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  return (Array.isArray(value) ? value.join(',') : value).trim().replace(/\s+/g, ' ');
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

/** The signing key of a secret for a day, region and service. */
export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
}

/**
 * Checks a request's SigV4 signature for `service` in `region`, with `secretOf` giving the secret of
 * an access key (or `undefined` for a key it does not know). Answers like API Gateway: 401 when the
 * request is not signed, 403 when the signature, key, scope or time is wrong.
 */
export function verifySigV4(
  request: SignedRequest,
  expected: { readonly region: string; readonly service: string },
  secretOf: (accessKeyId: string, sessionToken: string | undefined) => string | undefined,
  now: Date = new Date(),
): SigV4Check {
  const authorization = headerValue(request.headers, 'authorization');
  if (authorization === undefined) {
    return { ok: false, status: 401, reason: 'the request is not signed (no Authorization header)' };
  }
  const parsed = parseAuthorization(authorization);
  if (typeof parsed === 'string') return { ok: false, status: 403, reason: parsed };
  if (parsed.region !== expected.region || parsed.service !== expected.service) {
    return {
      ok: false,
      status: 403,
      reason: `the credential scope is ${parsed.region}/${parsed.service}; sign for ${expected.region}/${expected.service}`,
    };
  }
  const amzDate = headerValue(request.headers, 'x-amz-date');
  if (amzDate === undefined || !/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== parsed.date) {
    return { ok: false, status: 403, reason: 'X-Amz-Date is missing, malformed or not the scope date' };
  }
  const signedAt = Date.UTC(
    Number(amzDate.slice(0, 4)),
    Number(amzDate.slice(4, 6)) - 1,
    Number(amzDate.slice(6, 8)),
    Number(amzDate.slice(9, 11)),
    Number(amzDate.slice(11, 13)),
    Number(amzDate.slice(13, 15)),
  );
  if (Math.abs(now.getTime() - signedAt) > MAX_CLOCK_SKEW_MS) {
    return {
      ok: false,
      status: 403,
      reason: 'the signature expired (X-Amz-Date is more than 15 minutes off)',
    };
  }
  if (!parsed.signedHeaders.includes('host')) {
    return { ok: false, status: 403, reason: 'the host header is not signed' };
  }
  const sessionToken = headerValue(request.headers, 'x-amz-security-token');
  const secret = secretOf(parsed.accessKeyId, sessionToken);
  if (secret === undefined) {
    return {
      ok: false,
      status: 403,
      reason: `the access key ${parsed.accessKeyId} is not known (or its session token does not match)`,
    };
  }
  const canonicalHeaders = parsed.signedHeaders
    .map((name) => `${name}:${headerValue(request.headers, name) ?? ''}\n`)
    .join('');
  const payloadHash = headerValue(request.headers, 'x-amz-content-sha256') ?? sha256(request.body);
  const canonicalRequest = [
    request.method.toUpperCase(),
    canonicalPath(request.rawPath),
    canonicalQuery(request.rawQuery),
    canonicalHeaders,
    parsed.signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
  const scope = `${parsed.date}/${parsed.region}/${parsed.service}/aws4_request`;
  const stringToSign = [ALGORITHM, amzDate, scope, sha256(canonicalRequest)].join('\n');
  const expectedSignature = createHmac(
    'sha256',
    signingKey(secret, parsed.date, parsed.region, parsed.service),
  )
    .update(stringToSign)
    .digest();
  const given = Buffer.from(parsed.signature, 'hex');
  if (given.length !== expectedSignature.length || !timingSafeEqual(given, expectedSignature)) {
    return {
      ok: false,
      status: 403,
      reason: 'the signature does not match (the request was changed, or signed with another secret)',
    };
  }
  if (payloadHash !== 'UNSIGNED-PAYLOAD' && payloadHash !== sha256(request.body)) {
    return { ok: false, status: 403, reason: 'x-amz-content-sha256 does not match the body' };
  }
  return { ok: true, accessKeyId: parsed.accessKeyId, sessionToken };
}
