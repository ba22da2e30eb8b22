/**
 * What an AWS request asks for, in IAM terms: the actions it needs, on which resource ARNs, with the
 * service-specific condition keys AWS supplies (`dynamodb:LeadingKeys`, `dynamodb:Attributes`,
 * `dynamodb:Select`, `dynamodb:ReturnValues`, `cloudwatch:namespace`, `sns:Protocol`,
 * `sns:Endpoint`, and per PutEvents entry `events:source` and `events:detail-type`), plus the KMS calls AWS makes on the caller's behalf for encrypted topics and queues
 * (`kms:GenerateDataKey`, `kms:Decrypt` with `kms:ViaService`). Global keys are added by the evaluator.
 */
import { type IamRegistry, queueArnOfUrl } from './registry.js';

export type ContextValues = Record<string, string | string[]>;

export interface AccessCheck {
  /** e.g. `dynamodb:PutItem`. */
  readonly action: string;
  /** The resource ARN, or `*` for actions without resource types. */
  readonly resource: string;
  readonly context: ContextValues;
  /** Set for the KMS calls a service makes for the caller: a denial is the service's KMS error. */
  readonly viaService?: string;
}

/** The IAM service prefix of a SigV4 signing name. */
const PREFIX: Readonly<Record<string, string>> = { monitoring: 'cloudwatch', email: 'ses' };

/** Request parameters: the JSON body, or the form of a query-protocol request. */
export function parametersOf(body: string, contentType: string | undefined): Record<string, unknown> {
  if (contentType?.includes('x-www-form-urlencoded') === true) {
    return Object.fromEntries(new URLSearchParams(body));
  }
  if (body.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** The scalar value of a DynamoDB attribute value (`{ S: 'x' }` → `x`). */
function scalar(value: unknown): string | undefined {
  if (!isRecord(value)) return undefined;
  for (const type of ['S', 'N', 'B']) {
    const inner = value[type];
    if (typeof inner === 'string') return inner;
  }
  return undefined;
}

/** Top-level attribute names an expression refers to (`#a.b = :v` → `a`, resolved through the names). */
function expressionAttributes(expression: unknown, names: unknown): string[] {
  if (typeof expression !== 'string') return [];
  const lookup = isRecord(names) ? names : {};
  const found = new Set<string>();
  const withoutValues = expression.replace(/:[A-Za-z0-9_]+/g, ' ');
  const keywords =
    /^(SET|REMOVE|ADD|DELETE|AND|OR|NOT|BETWEEN|IN|attribute_exists|attribute_not_exists|attribute_type|begins_with|contains|size|if_not_exists|list_append)$/i;
  for (const match of withoutValues.matchAll(
    /(#[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*)(?:\[\d+\]|\.[#A-Za-z0-9_]+)*/g,
  )) {
    const token = match[1];
    if (token === undefined) continue;
    const next = withoutValues.slice((match.index ?? 0) + match[0].length).trimStart();
    if (next.startsWith('(')) continue; // a function name
    if (token.startsWith('#')) {
      const name = lookup[token];
      if (typeof name === 'string') found.add(name);
    } else if (!keywords.test(token)) {
      found.add(token);
    }
  }
  return [...found];
}

interface DynamoContext {
  readonly region: string;
  readonly accountId: string;
  readonly registry: IamRegistry;
}

function tableArn(table: string, context: DynamoContext, index?: string): string {
  const base = table.startsWith('arn:')
    ? table
    : `arn:aws:dynamodb:${context.region}:${context.accountId}:table/${table}`;
  return index === undefined ? base : `${base}/index/${index}`;
}

function tableNameOf(table: string): string {
  return table.startsWith('arn:')
    ? (table.slice(table.indexOf(':table/') + 7).split('/')[0] ?? table)
    : table;
}

function leadingKey(table: string, key: unknown, context: DynamoContext): string | undefined {
  const partition = context.registry.partitionKeyOf(tableNameOf(table));
  return partition === undefined || !isRecord(key) ? undefined : scalar(key[partition]);
}

/** The condition keys of one item operation. */
function itemContext(
  operation: 'GetItem' | 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'ConditionCheckItem',
  request: Record<string, unknown>,
  table: string,
  context: DynamoContext,
): ContextValues {
  const values: ContextValues = {};
  const keySource = operation === 'PutItem' ? request.Item : request.Key;
  const leading = leadingKey(table, keySource, context);
  if (leading !== undefined) values['dynamodb:LeadingKeys'] = [leading];
  const attributes = new Set<string>();
  if (isRecord(keySource)) for (const name of Object.keys(keySource)) attributes.add(name);
  const names = request.ExpressionAttributeNames;
  for (const field of ['UpdateExpression', 'ProjectionExpression', 'ConditionExpression']) {
    for (const name of expressionAttributes(request[field], names)) attributes.add(name);
  }
  if (Array.isArray(request.AttributesToGet))
    for (const name of request.AttributesToGet) if (typeof name === 'string') attributes.add(name);
  if (isRecord(request.AttributeUpdates))
    for (const name of Object.keys(request.AttributeUpdates)) attributes.add(name);
  const projected =
    operation !== 'GetItem' ||
    request.ProjectionExpression !== undefined ||
    request.AttributesToGet !== undefined;
  if (projected && attributes.size > 0) values['dynamodb:Attributes'] = [...attributes];
  const returnValues = str(request.ReturnValues);
  if (returnValues !== undefined) values['dynamodb:ReturnValues'] = returnValues;
  const consumed = str(request.ReturnConsumedCapacity);
  if (consumed !== undefined) values['dynamodb:ReturnConsumedCapacity'] = consumed;
  return values;
}

function dynamodbChecks(
  operation: string,
  p: Record<string, unknown>,
  context: DynamoContext,
): AccessCheck[] {
  const table = str(p.TableName);
  switch (operation) {
    case 'GetItem':
    case 'PutItem':
    case 'UpdateItem':
    case 'DeleteItem':
      if (table === undefined) break;
      return [
        {
          action: `dynamodb:${operation}`,
          resource: tableArn(table, context),
          context: itemContext(operation, p, table, context),
        },
      ];
    case 'Query':
    case 'Scan': {
      if (table === undefined) break;
      const index = str(p.IndexName);
      const values: ContextValues = {};
      const select =
        str(p.Select) ?? (p.ProjectionExpression !== undefined ? 'SPECIFIC_ATTRIBUTES' : undefined);
      if (select !== undefined) values['dynamodb:Select'] = select;
      const attributes = expressionAttributes(p.ProjectionExpression, p.ExpressionAttributeNames);
      if (attributes.length > 0) values['dynamodb:Attributes'] = attributes;
      if (operation === 'Query' && index === undefined) {
        const partition = context.registry.partitionKeyOf(tableNameOf(table));
        const leading = partition === undefined ? undefined : partitionValue(p, partition);
        if (leading !== undefined) values['dynamodb:LeadingKeys'] = [leading];
      }
      const consumed = str(p.ReturnConsumedCapacity);
      if (consumed !== undefined) values['dynamodb:ReturnConsumedCapacity'] = consumed;
      return [
        { action: `dynamodb:${operation}`, resource: tableArn(table, context, index), context: values },
      ];
    }
    case 'BatchGetItem':
    case 'BatchWriteItem': {
      const items = isRecord(p.RequestItems) ? p.RequestItems : {};
      return Object.entries(items).map(([name, entry]) => {
        const leading = new Set<string>();
        const attributes = new Set<string>();
        const requests =
          operation === 'BatchGetItem'
            ? (isRecord(entry) && Array.isArray(entry.Keys) ? entry.Keys : []).map((key) => ({ key }))
            : (Array.isArray(entry) ? entry : []).map((write) => {
                const w = isRecord(write) ? write : {};
                const put = isRecord(w.PutRequest) ? w.PutRequest.Item : undefined;
                const del = isRecord(w.DeleteRequest) ? w.DeleteRequest.Key : undefined;
                return { key: put ?? del };
              });
        for (const { key } of requests) {
          const value = leadingKey(name, key, context);
          if (value !== undefined) leading.add(value);
          if (operation === 'BatchWriteItem' && isRecord(key))
            for (const attribute of Object.keys(key)) attributes.add(attribute);
        }
        if (operation === 'BatchGetItem' && isRecord(entry)) {
          for (const attribute of expressionAttributes(
            entry.ProjectionExpression,
            entry.ExpressionAttributeNames,
          ))
            attributes.add(attribute);
        }
        const values: ContextValues = {};
        if (leading.size > 0) values['dynamodb:LeadingKeys'] = [...leading];
        if (attributes.size > 0) values['dynamodb:Attributes'] = [...attributes];
        return { action: `dynamodb:${operation}`, resource: tableArn(name, context), context: values };
      });
    }
    case 'TransactWriteItems':
    case 'TransactGetItems': {
      const items = Array.isArray(p.TransactItems) ? p.TransactItems : [];
      const checks: AccessCheck[] = [];
      const kinds = {
        Put: 'PutItem',
        Update: 'UpdateItem',
        Delete: 'DeleteItem',
        ConditionCheck: 'ConditionCheckItem',
        Get: 'GetItem',
      } as const;
      for (const item of items) {
        if (!isRecord(item)) continue;
        for (const [kind, action] of Object.entries(kinds)) {
          const request = item[kind];
          if (!isRecord(request) || typeof request.TableName !== 'string') continue;
          checks.push({
            action: `dynamodb:${action}`,
            resource: tableArn(request.TableName, context),
            context: itemContext(action, request, request.TableName, context),
          });
        }
      }
      return checks;
    }
    case 'ListTables':
    case 'DescribeLimits':
    case 'DescribeEndpoints':
      return [{ action: `dynamodb:${operation}`, resource: '*', context: {} }];
    default:
      break;
  }
  const arn = table ?? str(p.ResourceArn);
  return [
    {
      action: `dynamodb:${operation}`,
      resource: arn === undefined ? '*' : tableArn(arn, context),
      context: {},
    },
  ];
}

/** The partition key's value in a Query's key condition (`#pk = :pk` or `pk = :v`). */
function partitionValue(p: Record<string, unknown>, partition: string): string | undefined {
  const expression = str(p.KeyConditionExpression);
  const values = isRecord(p.ExpressionAttributeValues) ? p.ExpressionAttributeValues : {};
  const names = isRecord(p.ExpressionAttributeNames) ? p.ExpressionAttributeNames : {};
  if (expression !== undefined) {
    for (const match of expression.matchAll(/(#?[A-Za-z0-9_]+)\s*=\s*(:[A-Za-z0-9_]+)/g)) {
      const [, name, placeholder] = match;
      if (name === undefined || placeholder === undefined) continue;
      const resolved = name.startsWith('#') ? names[name] : name;
      if (resolved === partition) return scalar(values[placeholder]);
    }
  }
  const legacy = isRecord(p.KeyConditions) ? p.KeyConditions[partition] : undefined;
  if (isRecord(legacy) && Array.isArray(legacy.AttributeValueList))
    return scalar(legacy.AttributeValueList[0]);
  return undefined;
}

const SQS_BATCH: Readonly<Record<string, string>> = {
  SendMessageBatch: 'SendMessage',
  DeleteMessageBatch: 'DeleteMessage',
  ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
};

function kmsChecks(
  keyArn: string | undefined,
  actions: readonly string[],
  service: string,
  region: string,
): AccessCheck[] {
  if (keyArn === undefined) return [];
  return actions.map((action) => ({
    action,
    resource: keyArn,
    context: { 'kms:ViaService': `${service}.${region}.amazonaws.com` },
    viaService: service,
  }));
}

function sqsChecks(operation: string, p: Record<string, unknown>, context: DynamoContext): AccessCheck[] {
  const action = `sqs:${SQS_BATCH[operation] ?? operation}`;
  const url = str(p.QueueUrl);
  let queueArn: string | undefined;
  if (url !== undefined) {
    try {
      queueArn = queueArnOfUrl(url, context.region);
    } catch {
      queueArn = undefined;
    }
  } else if (typeof p.QueueName === 'string') {
    const owner = str(p.QueueOwnerAWSAccountId) ?? context.accountId;
    queueArn = `arn:aws:sqs:${context.region}:${owner}:${p.QueueName}`;
  }
  const checks: AccessCheck[] = [{ action, resource: queueArn ?? '*', context: {} }];
  if (queueArn !== undefined) {
    const key = context.registry.encryptionKeyOf(queueArn);
    if (action === 'sqs:SendMessage')
      checks.push(...kmsChecks(key, ['kms:GenerateDataKey', 'kms:Decrypt'], 'sqs', context.region));
    if (action === 'sqs:ReceiveMessage')
      checks.push(...kmsChecks(key, ['kms:Decrypt'], 'sqs', context.region));
  }
  return checks;
}

function snsChecks(operation: string, p: Record<string, unknown>, context: DynamoContext): AccessCheck[] {
  let topic = str(p.TopicArn) ?? str(p.TargetArn) ?? str(p.ResourceArn);
  const subscription = str(p.SubscriptionArn);
  if (topic === undefined && subscription !== undefined)
    topic = subscription.split(':').slice(0, 6).join(':');
  if (topic === undefined && operation === 'CreateTopic' && typeof p.Name === 'string') {
    topic = `arn:aws:sns:${context.region}:${context.accountId}:${p.Name}`;
  }
  const values: ContextValues = {};
  if (operation === 'Subscribe') {
    if (typeof p.Protocol === 'string') values['sns:Protocol'] = p.Protocol;
    if (typeof p.Endpoint === 'string') values['sns:Endpoint'] = p.Endpoint;
  }
  const action = operation === 'PublishBatch' ? 'sns:Publish' : `sns:${operation}`;
  const checks: AccessCheck[] = [{ action, resource: topic ?? '*', context: values }];
  if (action === 'sns:Publish' && topic !== undefined) {
    checks.push(
      ...kmsChecks(
        context.registry.encryptionKeyOf(topic),
        ['kms:GenerateDataKey', 'kms:Decrypt'],
        'sns',
        context.region,
      ),
    );
  }
  return checks;
}

function cloudwatchChecks(
  operation: string,
  p: Record<string, unknown>,
  context: DynamoContext,
): AccessCheck[] {
  const values: ContextValues = {};
  if (operation === 'PutMetricData' && typeof p.Namespace === 'string')
    values['cloudwatch:namespace'] = p.Namespace;
  let resource = '*';
  if (
    (operation === 'PutMetricAlarm' || operation === 'PutCompositeAlarm') &&
    typeof p.AlarmName === 'string'
  ) {
    resource = `arn:aws:cloudwatch:${context.region}:${context.accountId}:alarm:${p.AlarmName}`;
  } else if (operation === 'PutDashboard' && typeof p.DashboardName === 'string') {
    resource = `arn:aws:cloudwatch::${context.accountId}:dashboard/${p.DashboardName}`;
  }
  return [{ action: `cloudwatch:${operation}`, resource, context: values }];
}

/** The ARN of an EventBridge bus given by name or ARN (`default` when left out). */
function eventBusArn(bus: string | undefined, context: DynamoContext): string {
  if (bus?.startsWith('arn:') === true) return bus;
  return `arn:aws:events:${context.region}:${context.accountId}:event-bus/${bus ?? 'default'}`;
}

/**
 * EventBridge: PutEvents is authorized per entry, on the entry's bus, with the entry's `source` and
 * `detail-type` as condition keys (so a grant limited to one source refuses any other); other
 * operations name their bus or rule when they have one.
 */
function eventsChecks(operation: string, p: Record<string, unknown>, context: DynamoContext): AccessCheck[] {
  if (operation === 'PutEvents') {
    const entries = Array.isArray(p.Entries) ? p.Entries.filter(isRecord) : [];
    if (entries.length === 0)
      return [{ action: 'events:PutEvents', resource: eventBusArn(undefined, context), context: {} }];
    return entries.map((entry) => {
      const values: ContextValues = {};
      const source = str(entry.Source);
      const detailType = str(entry.DetailType);
      if (source !== undefined) values['events:source'] = source;
      if (detailType !== undefined) values['events:detail-type'] = detailType;
      return {
        action: 'events:PutEvents',
        resource: eventBusArn(str(entry.EventBusName), context),
        context: values,
      };
    });
  }
  const rule = str(p.Rule) ?? (operation.endsWith('Rule') ? str(p.Name) : undefined);
  const bus = str(p.EventBusName);
  if (rule !== undefined) {
    const busName = bus === undefined || bus === 'default' ? undefined : bus.split('/').pop();
    return [
      {
        action: `events:${operation}`,
        resource: `arn:aws:events:${context.region}:${context.accountId}:rule/${busName === undefined ? '' : `${busName}/`}${rule}`,
        context: {},
      },
    ];
  }
  const busResource = bus ?? (operation.endsWith('EventBus') ? str(p.Name) : undefined);
  return [
    {
      action: `events:${operation}`,
      resource: busResource === undefined ? '*' : eventBusArn(busResource, context),
      context: {},
    },
  ];
}

/** The checks one request needs; `service` is the SigV4 signing name. */
export function accessChecks(
  service: string,
  operation: string,
  parameters: Record<string, unknown>,
  context: DynamoContext,
): AccessCheck[] {
  switch (service) {
    case 'dynamodb':
      return dynamodbChecks(operation, parameters, context);
    case 'sqs':
      return sqsChecks(operation, parameters, context);
    case 'sns':
      return snsChecks(operation, parameters, context);
    case 'monitoring':
      return cloudwatchChecks(operation, parameters, context);
    case 'events':
      return eventsChecks(operation, parameters, context);
    default:
      return [{ action: `${PREFIX[service] ?? service}:${operation}`, resource: '*', context: {} }];
  }
}
