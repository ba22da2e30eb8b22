/**
 * docs/without-cdk.md stays true: its CloudFormation and SAM templates are cfn-lint clean, the
 * resources of its Serverless fragment too, every import names a real export, every environment
 * variable is one the kit reads, and every registration is one the registrar accepts, for the same
 * plugin its subscription targets.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type DeploymentRef,
  EXPORTS,
  PLUGIN_ENV,
  PLUGIN_TAG_KEY,
  pluginTagValue,
  STAGE_NAMES,
} from '../../../lambdas/contracts/index.js';
import { resolveRegistration } from '../../../lambdas/handlers/registrar.js';
import { targetedFilterPolicy } from '../../../plugin-kit/src/cdk/filter-policy.js';
import { lint, readYaml, titledBlocks, valuesUnder } from './doc-blocks.js';

const GUIDE = fileURLToPath(new URL('../../../docs/without-cdk.md', import.meta.url));
const DEPLOYMENT: DeploymentRef = { systemName: 'plugboard', stage: 'dev' };
const ACTIVITIES = ['approve-order', 'ship-order'];
const blocks = titledBlocks(GUIDE);

type Json = Record<string, unknown>;
/** A `${name}` placeholder as templates write it (CloudFormation `!Sub`, Serverless variables). */
const variable = (name: string): string => `\${${name}}`;
const asObject = (value: unknown): Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};

/** Every export name of the deployment, for the guide's activities. */
function exportNames(): Set<string> {
  const names = new Set<string>();
  for (const [key, name] of Object.entries(EXPORTS)) {
    if (name.length === 1) names.add((name as (d: DeploymentRef) => string)(DEPLOYMENT));
    else {
      for (const activity of ACTIVITIES) {
        for (const stage of STAGE_NAMES) names.add(EXPORTS[key as 'inboxArn'](DEPLOYMENT, activity, stage));
      }
    }
  }
  return names;
}

/** The export names a template imports, with its parameters (or Serverless variables) filled in. */
function importedNames(template: unknown): string[] {
  return valuesUnder(template, 'Fn::ImportValue').map((value) => {
    const text = typeof value === 'string' ? value : asObject(value)['Fn::Sub'];
    if (typeof text !== 'string') throw new Error(`an import the test cannot read: ${JSON.stringify(value)}`);
    return text
      .replaceAll(variable('SystemName'), DEPLOYMENT.systemName)
      .replaceAll(variable('DeploymentStage'), DEPLOYMENT.stage);
  });
}

/** The logical id a `Fn::GetAtt: [Id, Arn]` (or `!GetAtt Id.Arn`) points at. */
function getAttTarget(value: unknown): string | undefined {
  const target = asObject(value)['Fn::GetAtt'];
  return Array.isArray(target) && typeof target[0] === 'string' ? target[0] : undefined;
}

interface Plugged {
  readonly registrationId: string;
  readonly properties: Json;
  readonly functionId: string;
}

function registrations(resources: Json): Plugged[] {
  return Object.entries(resources)
    .filter(([, resource]) => asObject(resource).Type === 'Custom::PlugboardPluginRegistration')
    .map(([registrationId, resource]) => {
      const properties = asObject(asObject(resource).Properties);
      const functionId = getAttTarget(asObject(properties.Registration).functionArn);
      if (functionId === undefined) throw new Error(`${registrationId}: no functionArn: Fn::GetAtt`);
      return { registrationId, properties, functionId };
    });
}

/** The registration as the registrar stores it (the function ARN replaced by a literal one). */
async function accepted(plugged: Plugged) {
  const registration = {
    ...asObject(plugged.properties.Registration),
    functionArn: `arn:aws:lambda:eu-west-1:123456789012:function:${plugged.functionId}`,
  };
  return resolveRegistration(
    { ...plugged.properties, Registration: registration },
    { initializer: { initialize: async () => ({}) }, knownActivities: ACTIVITIES },
  );
}

const dir = mkdtempSync(join(tmpdir(), 'plugboard-without-cdk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('docs/without-cdk.md', { timeout: 300_000 }, () => {
  it('has the CloudFormation, SAM and Serverless blocks this test checks', () => {
    expect([...blocks.keys()].sort()).toEqual([
      'plugin.sam.yaml',
      'plugin.template.yaml',
      'queue-plugin.template.yaml',
      'serverless.yml',
    ]);
  });

  it('has cfn-lint clean templates (no error, warning or informational finding)', () => {
    const files = ['plugin.template.yaml', 'queue-plugin.template.yaml', 'plugin.sam.yaml'].map((title) => {
      const file = join(dir, title);
      writeFileSync(file, blocks.get(title) ?? '');
      return file;
    });

    const result = lint(files);

    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  });

  for (const title of ['plugin.template.yaml', 'queue-plugin.template.yaml', 'plugin.sam.yaml']) {
    describe(title, () => {
      const template = asObject(readYaml(blocks.get(title) ?? ''));
      const resources = asObject(template.Resources);

      it('imports only exports the deployment has', () => {
        const known = exportNames();
        const imported = importedNames(template);

        expect(imported.length).toBeGreaterThan(0);
        expect(imported.filter((name) => !known.has(name))).toEqual([]);
      });

      it('sets only environment variables the kit reads, on Node.js 20 or later', () => {
        const variables = valuesUnder(resources, 'Variables').flatMap((value) =>
          Object.keys(asObject(value)),
        );
        const runtimes = valuesUnder(resources, 'Runtime');

        expect(variables).toContain(PLUGIN_ENV.statusTable);
        expect(variables.filter((name) => !Object.values<string>(PLUGIN_ENV).includes(name))).toEqual([]);
        expect(runtimes.every((runtime) => /^nodejs(2\d|[3-9]\d)\.x$/.test(String(runtime)))).toBe(true);
      });

      it('registers each plugin as the registrar accepts it, subscribed with its targeting, after the subscription, tagged', async () => {
        const plugged = registrations(resources);
        expect(plugged.length).toBe(1);

        for (const plugin of plugged) {
          const registration = await accepted(plugin);
          const fn = asObject(resources[plugin.functionId]);
          const properties = asObject(fn.Properties);
          const subscriptions =
            fn.Type === 'AWS::Serverless::Function'
              ? Object.entries(asObject(properties.Events)).map(([event, value]) => ({
                  id: `${plugin.functionId}${event}`,
                  policy: asObject(asObject(value).Properties).FilterPolicy,
                }))
              : Object.entries(resources)
                  .filter(
                    ([, value]) =>
                      getAttTarget(asObject(asObject(value).Properties).Endpoint) === plugin.functionId,
                  )
                  .map(([id, value]) => ({ id, policy: asObject(asObject(value).Properties).FilterPolicy }));

          expect(subscriptions).toHaveLength(1);
          expect(subscriptions[0]?.policy).toEqual(
            targetedFilterPolicy(registration.info.name, registration.filterPolicy),
          );
          expect(asObject(resources[plugin.registrationId]).DependsOn).toBe(subscriptions[0]?.id);
          const tags = properties.Tags;
          const tagged = Array.isArray(tags)
            ? tags.some((tag) => asObject(tag).Key === PLUGIN_TAG_KEY)
            : PLUGIN_TAG_KEY in asObject(tags);
          expect(tagged).toBe(true);
        }
      });
    });
  }

  describe('serverless.yml', () => {
    const text = (blocks.get('serverless.yml') ?? '')
      .replaceAll(variable('self:custom.plugboard'), pluginTagValue(DEPLOYMENT))
      .replaceAll(variable('sls:stage'), DEPLOYMENT.stage);
    const service = asObject(readYaml(text));
    const functions = asObject(service.functions);
    const resources = asObject(asObject(service.resources).Resources);
    const logicalId = (name: string) => `${name.charAt(0).toUpperCase()}${name.slice(1)}`;

    it('imports only exports the deployment has', () => {
      const known = exportNames();

      expect(importedNames(service).filter((name) => !known.has(name))).toEqual([]);
    });

    it('registers each SNS function as the registrar accepts it, after its subscription, with its targeting', async () => {
      const plugged = registrations(resources);
      expect(plugged.map((plugin) => plugin.functionId).sort()).toEqual([
        'CheckCreditLambdaFunction',
        'RenderPdfBridgeLambdaFunction',
      ]);

      for (const plugin of plugged) {
        const registration = await accepted(plugin);
        const name =
          Object.keys(functions).find((key) => `${logicalId(key)}LambdaFunction` === plugin.functionId) ?? '';
        const fn = asObject(functions[name]);
        const sns = asObject(asObject((fn.events as unknown[])[0]).sns);
        const topic = String(sns.topicName).replace(/[^A-Za-z0-9]/g, '');

        expect(asObject(sns.filterPolicy)).toEqual(
          targetedFilterPolicy(registration.info.name, registration.filterPolicy),
        );
        expect(asObject(resources[plugin.registrationId]).DependsOn).toBe(
          `${logicalId(name)}SnsSubscription${topic.charAt(0).toUpperCase()}${topic.slice(1)}`,
        );
        expect(asObject(fn.tags)[PLUGIN_TAG_KEY]).toBe(pluginTagValue(DEPLOYMENT));
      }
    });

    it('sets only environment variables the kit reads', () => {
      const names = [
        ...Object.keys(asObject(asObject(service.provider).environment)),
        ...Object.values(functions).flatMap((fn) => Object.keys(asObject(asObject(fn).environment))),
      ];

      expect(names.filter((name) => !Object.values<string>(PLUGIN_ENV).includes(name))).toEqual([]);
    });

    it('has cfn-lint clean resources (with stand-ins for what Serverless generates)', () => {
      const generated: Json = {};
      for (const plugin of registrations(resources)) {
        generated[plugin.functionId] = {
          Type: 'AWS::Lambda::Function',
          Properties: {
            Runtime: 'nodejs22.x',
            Handler: 'index.handler',
            Role: 'arn:aws:iam::123456789012:role/serverless',
            Code: { ZipFile: 'exports.handler = async () => undefined;' },
          },
        };
        generated[String(asObject(resources[plugin.registrationId]).DependsOn)] = {
          Type: 'AWS::SNS::Subscription',
          Properties: {
            Protocol: 'lambda',
            TopicArn: 'arn:aws:sns:eu-west-1:123456789012:topic',
            Endpoint: { 'Fn::GetAtt': [plugin.functionId, 'Arn'] },
          },
        };
      }
      const file = join(dir, 'serverless-resources.template.json');
      writeFileSync(
        file,
        JSON.stringify({ AWSTemplateFormatVersion: '2010-09-09', Resources: { ...generated, ...resources } }),
      );

      const result = lint([file]);

      expect(result.output).toBe('');
      expect(result.status).toBe(0);
    });
  });
});
