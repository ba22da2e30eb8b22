/**
 * Typed errors of the local cloud. Every error names what failed (the stack, the logical ID, the
 * resource type, the function) so a user can find it in the template or the CDK code.
 */

/** Base class of every local-cloud error: sets `name` and keeps `cause`. */
export class LocalCloudError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The message of anything thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `moto_server` (or the Python behind it) is not installed or cannot start. */
export class MotoUnavailableError extends LocalCloudError {
  constructor(
    message: string,
    readonly installCommand: string,
    options?: { cause?: unknown },
  ) {
    super(`${message}\nInstall it with: ${installCommand}`, options);
  }
}

/** `moto_server` started but did not become ready, or an external endpoint does not answer. */
export class MotoStartError extends LocalCloudError {}

/** The cloud assembly directory is missing, malformed or refers to a file that does not exist. */
export class AssemblyError extends LocalCloudError {
  constructor(
    readonly directory: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`Cloud assembly ${directory}: ${detail}`, options);
  }
}

/** An intrinsic function could not be resolved (unknown function, bad arguments, unknown target). */
export class IntrinsicError extends LocalCloudError {
  constructor(
    readonly stackName: string,
    readonly path: string,
    detail: string,
  ) {
    super(`${stackName} ${path}: ${detail}`);
  }
}

/** `Fn::ImportValue` names an export that no deployed stack provides. */
export class MissingImportError extends LocalCloudError {
  constructor(
    readonly stackName: string,
    readonly exportName: string,
    readonly path: string,
    /** The export names the local cloud has, to spot a typo or a wrong stage. */
    readonly known?: readonly string[],
  ) {
    super(
      `${stackName} ${path}: Fn::ImportValue "${exportName}" is not exported by any stack deployed in this local cloud. Deploy the stack that exports it first.${known === undefined ? '' : ` Exports in this local cloud: ${known.length === 0 ? 'none' : [...known].sort().join(', ')}.`}`,
    );
  }
}

/** Two stacks export the same name (CloudFormation refuses this too). */
export class DuplicateExportError extends LocalCloudError {
  constructor(
    readonly exportName: string,
    readonly stackName: string,
    readonly existingStackName: string,
  ) {
    super(
      `${stackName} exports "${exportName}", which ${existingStackName} already exports. Export names are unique per account and region.`,
    );
  }
}

/** The template uses a resource type the local cloud neither creates nor accepts as meaningless. */
export class UnsupportedResourceError extends LocalCloudError {
  constructor(
    readonly stackName: string,
    readonly logicalId: string,
    readonly resourceType: string,
  ) {
    super(
      `${stackName}/${logicalId}: resource type ${resourceType} is not supported by the local cloud. ` +
        'Add a provider for it in local/resources/ or, if it has no local meaning, add it to the allow-list with a reason.',
    );
  }
}

/** A resource uses a property (or a property value) the local cloud cannot honour. */
export class UnsupportedPropertyError extends LocalCloudError {
  constructor(
    readonly stackName: string,
    readonly logicalId: string,
    readonly resourceType: string,
    readonly property: string,
    detail: string,
  ) {
    super(`${stackName}/${logicalId} (${resourceType}) property ${property}: ${detail}`);
  }
}

/** Creating one resource failed; `cause` holds the SDK or runner error. */
export class ResourceCreationError extends LocalCloudError {
  constructor(
    readonly stackName: string,
    readonly logicalId: string,
    readonly resourceType: string,
    options: { cause: unknown },
  ) {
    const detail = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(`${stackName}/${logicalId} (${resourceType}) could not be created: ${detail}`, options);
  }
}

/** A custom resource answered FAILED, never answered, or its provider function failed. */
export class CustomResourceError extends LocalCloudError {
  constructor(
    readonly stackName: string,
    readonly logicalId: string,
    readonly reason: string,
  ) {
    super(`${stackName}/${logicalId}: custom resource failed: ${reason}`);
  }
}

/** A stack with this name is already deployed in this local cloud (updates are not supported). */
export class StackAlreadyDeployedError extends LocalCloudError {
  constructor(readonly stackName: string) {
    super(
      `Stack ${stackName} is already deployed in this local cloud. The local cloud creates stacks and does not update them: start a fresh local cloud to deploy a changed template.`,
    );
  }
}

/** No stack with this name is deployed in this local cloud. */
export class StackNotDeployedError extends LocalCloudError {
  constructor(readonly stackName: string) {
    super(`Stack ${stackName} is not deployed in this local cloud.`);
  }
}

/** The Lambda runner has no function with this name or ARN. */
export class FunctionNotFoundError extends LocalCloudError {
  constructor(readonly functionName: string) {
    super(`Function not found: ${functionName}`);
  }
}

/** A function definition cannot be hosted (runtime, handler format, code location). */
export class FunctionDefinitionError extends LocalCloudError {
  constructor(
    readonly functionName: string,
    detail: string,
  ) {
    super(`Function ${functionName}: ${detail}`);
  }
}

/** The function's reserved concurrency is 0: every invocation is throttled, as on AWS. */
export class FunctionThrottledError extends LocalCloudError {
  constructor(readonly functionName: string) {
    super(`Function ${functionName} has reserved concurrency 0; every invocation is throttled.`);
  }
}

/** The runner was stopped while the operation waited. */
export class RunnerStoppedError extends LocalCloudError {
  constructor(what: string) {
    super(`The Lambda runner stopped before ${what} could finish.`);
  }
}

/** A schedule expression the local timers cannot honour (cron, or a malformed rate). */
export class UnsupportedScheduleError extends LocalCloudError {
  constructor(
    readonly ruleName: string,
    readonly expression: string,
    detail: string,
  ) {
    super(`Rule ${ruleName} schedule "${expression}": ${detail}`);
  }
}

/** A function's own credentials were asked for, but it has none (unknown name, or IAM is off). */
export class NoFunctionCredentialsError extends LocalCloudError {
  constructor(
    readonly functionName: string,
    detail: string,
  ) {
    super(`No credentials of function ${functionName}: ${detail}.`);
  }
}
