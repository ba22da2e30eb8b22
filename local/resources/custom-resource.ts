/**
 * Custom resources (`Custom::*`, `AWS::CloudFormation::CustomResource`): the ServiceToken must be a
 * function the runner hosts. The deployer invokes it (asynchronously, as CloudFormation does) with a
 * real-shaped Create request whose ResponseURL is the deployer's local endpoint, waits for the PUT
 * response and fails the deploy with the Reason on FAILED, on a function error without a response,
 * and when no response arrives in time. `Data` becomes the resource's attributes.
 */
import { randomUUID } from 'node:crypto';
import { CustomResourceError, messageOf } from '../errors.js';
import { arn, type ProviderContext, type ResourceProvider } from './provider.js';

export const customResourceProvider: ResourceProvider = {
  types: ['AWS::CloudFormation::CustomResource', 'Custom::*'],
  async create(context: ProviderContext) {
    const p = context.properties;
    const serviceToken = p.string('ServiceToken');
    const fail = (reason: string) => new CustomResourceError(context.stackName, context.logicalId, reason);
    if (!serviceToken.startsWith('arn:aws:lambda:')) {
      throw fail(
        `ServiceToken ${serviceToken} is not a Lambda function; SNS-backed custom resources are not emulated`,
      );
    }
    if (!context.runner.has(serviceToken)) {
      throw fail(`ServiceToken ${serviceToken} names a function that is not deployed in this local cloud`);
    }
    p.ignore('ServiceTimeout', 'the local deployer applies its own customResourceTimeoutMs');
    // Every property goes to the provider as ResourceProperties, as on AWS.
    for (const name of Object.keys(p.values)) p.raw(name);
    p.done();
    const stackId = arn(context.environment, 'cloudformation', `stack/${context.stackName}/local`);
    const { token, url } = context.customResources.newResponseUrl();
    const requestId = randomUUID();
    const event = {
      RequestType: 'Create',
      ServiceToken: serviceToken,
      ResponseURL: url,
      StackId: stackId,
      RequestId: requestId,
      LogicalResourceId: context.logicalId,
      ResourceType: context.type,
      ResourceProperties: { ...p.values, ServiceToken: serviceToken },
    };
    const waiting = context.customResources.waitFor(token, context.customResourceTimeoutMs);
    // CloudFormation invokes asynchronously; the invocation result only matters when it fails
    // without having answered (AWS would then wait an hour for a response).
    const invocation = context.runner.invoke(serviceToken, event).then((result) => {
      if (result.ok) return new Promise<never>(() => {});
      const detail = `${result.error.errorType}: ${result.error.errorMessage}`;
      return Promise.reject(fail(`the provider function failed without sending a response (${detail})`));
    });
    let response: Awaited<typeof waiting.response>;
    try {
      response = await Promise.race([waiting.response, invocation]);
    } catch (error) {
      waiting.cancel();
      if (error instanceof CustomResourceError) throw error;
      throw fail(messageOf(error));
    }
    if (response.Status === 'FAILED')
      throw fail(response.Reason ?? 'the provider answered FAILED without a Reason');
    if (response.RequestId !== undefined && response.RequestId !== requestId) {
      throw fail(`the response carries RequestId ${response.RequestId}, not ${requestId}`);
    }
    const physicalId =
      response.PhysicalResourceId ?? `${context.stackName}-${context.logicalId}-${requestId}`;
    return { physicalId, attributes: { ...(response.Data ?? {}) } };
  },
};
