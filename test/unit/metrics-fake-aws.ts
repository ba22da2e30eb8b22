/**
 * Fake AWS for unit tests of the metrics handler: real SDK v3 clients whose HTTP handler answers in
 * memory. Every request goes through the SDK's own serialization and deserialization, so a test sees
 * exactly what the handler would send (operation and input) without a network or moto.
 */
import type { HttpRequest, HttpResponse } from '@smithy/types';

export interface FakeCall {
  /** e.g. `DynamoDB.Query`, `CloudWatch.PutMetricData`, `SNS.Publish`. */
  readonly operation: string;
  /** The request parameters: parsed JSON for JSON protocols, form fields for the query protocol. */
  readonly input: Record<string, unknown>;
}

/** An AWS error answer: the SDK turns it into the modeled exception named by `type`. */
export class FakeAwsError {
  constructor(
    readonly type: string,
    readonly message: string,
    readonly status = 400,
  ) {}
}

export type FakeResponder = (call: FakeCall) => Record<string, unknown> | FakeAwsError;

const encoder = new TextEncoder();

async function bodyText(request: HttpRequest): Promise<string> {
  const body: unknown = request.body;
  if (body === undefined || body === null) return '';
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return new TextDecoder().decode(body);
  throw new Error('fake AWS: unexpected request body type');
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function jsonResponse(status: number, payload: unknown): HttpResponse {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/x-amz-json-1.0' },
    body: encoder.encode(JSON.stringify(payload)),
  };
}

function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function xmlResponse(status: number, xml: string): HttpResponse {
  return { statusCode: status, headers: { 'content-type': 'text/xml' }, body: encoder.encode(xml) };
}

/**
 * An SDK `requestHandler` that records every call and answers with `respond`. JSON-protocol services
 * (DynamoDB, CloudWatch) are recognized by `x-amz-target`; query-protocol ones (SNS) by `Action`.
 */
export function fakeRequestHandler(service: string, respond: FakeResponder) {
  const calls: FakeCall[] = [];
  const handler = {
    async handle(request: HttpRequest): Promise<{ response: HttpResponse }> {
      const text = await bodyText(request);
      const target = request.headers['x-amz-target'];
      if (target !== undefined) {
        const operation = `${service}.${target.split('.').at(-1) ?? target}`;
        const parsed: unknown = text ? JSON.parse(text) : {};
        if (!isRecord(parsed)) throw new Error(`fake AWS: ${operation} body is not a JSON object`);
        const input = parsed;
        const call = { operation, input };
        calls.push(call);
        const answer = respond(call);
        if (answer instanceof FakeAwsError) {
          return { response: jsonResponse(answer.status, { __type: answer.type, message: answer.message }) };
        }
        return { response: jsonResponse(200, answer) };
      }
      const form = Object.fromEntries(new URLSearchParams(text));
      const action = form.Action ?? 'Unknown';
      const call = { operation: `${service}.${action}`, input: form };
      calls.push(call);
      const answer = respond(call);
      if (answer instanceof FakeAwsError) {
        return {
          response: xmlResponse(
            answer.status,
            `<ErrorResponse><Error><Type>Sender</Type><Code>${answer.type}</Code><Message>${xmlEscape(answer.message)}</Message></Error><RequestId>r</RequestId></ErrorResponse>`,
          ),
        };
      }
      const fields = Object.entries(answer)
        .map(([k, v]) => `<${k}>${xmlEscape(String(v))}</${k}>`)
        .join('');
      return {
        response: xmlResponse(
          200,
          `<${action}Response><${action}Result>${fields}</${action}Result><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></${action}Response>`,
        ),
      };
    },
  };
  return { handler, calls };
}

/** Client options that route a client through a fake handler (no credentials lookup, no retries). */
export function fakeClientConfig(requestHandler: ReturnType<typeof fakeRequestHandler>['handler']) {
  return {
    region: 'us-east-1',
    credentials: { accessKeyId: 'fake', secretAccessKey: 'fake' },
    maxAttempts: 1,
    requestHandler,
  };
}
