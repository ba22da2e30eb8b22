/**
 * The web console on AWS: the console bundle (console/build.ts) in a private S3 bucket behind a
 * CloudFront distribution that reads it through origin access control, and the HTTP API behind the
 * same distribution under `/api/*` (a CloudFront Function strips the prefix), so the browser talks
 * to one origin and the API needs no CORS. `config.json`, written at deployment, tells the console
 * the API's path and the OIDC issuer and client to sign in with (authorization code with PKCE; the
 * API's JWT authorizer checks the same issuer). Opt-in (`--context console=true`, ADR 0009): the
 * local deployer cannot deploy CloudFront or a BucketDeployment, and the local cloud serves the same
 * bundle itself (local/console-server.ts).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fn, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import {
  AllowedMethods,
  CachePolicy,
  Function as CloudFrontFunction,
  Distribution,
  FunctionCode,
  FunctionEventType,
  FunctionRuntime,
  HttpVersion,
  OriginProtocolPolicy,
  OriginRequestPolicy,
  ResponseHeadersPolicy,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { HttpOrigin, S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type CfnBucket,
  ObjectOwnership,
} from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { buildConsoleSync } from '../console/build.js';
import { SCOPES } from '../lambdas/api/routes.js';
import { PlugboardCdkError } from './errors.js';

export interface ConsoleHostingProps {
  /** The API's endpoint (`https://<id>.execute-api.<region>.amazonaws.com`), a token or a string. */
  readonly apiUrl: string;
  /** The OIDC issuer the API's JWT authorizer trusts (its `https://` URL). */
  readonly oidcIssuer: string;
  /** The console's public OIDC client (no secret): its callback URL is the distribution's. */
  readonly oidcClientId: string;
  /** Log groups the run page links to (CloudWatch Logs, filtered by the run's uid). @default - no links */
  readonly logGroupNames?: readonly string[];
  /** Whether the bucket and its objects go with the stack. @default false (retained) */
  readonly ephemeral?: boolean;
  /** A built console. @default - built from console/ with esbuild at synthesis */
  readonly distDirectory?: string;
}

/** Strips `/api` from the path of a request to the API behavior (the API's routes start at `/`). */
const STRIP_API_PREFIX = `function handler(event) {
  var request = event.request;
  request.uri = request.uri.replace(/^\\/api(?=\\/|$)/, '') || '/';
  return request;
}`;

export class ConsoleHosting extends Construct {
  readonly bucket: Bucket;
  readonly distribution: Distribution;
  /** `https://<distribution domain>`: the console's address (and the OIDC client's callback). */
  readonly url: string;

  constructor(scope: Construct, id: string, props: ConsoleHostingProps) {
    super(scope, id);
    validate(props);
    const ephemeral = props.ephemeral ?? false;

    this.bucket = new Bucket(this, 'Bucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: !ephemeral,
      removalPolicy: ephemeral ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
      autoDeleteObjects: ephemeral,
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'The bucket holds only the public console bundle (three static files, replaced on every deployment); CloudFront, the only reader, is where requests would be logged.',
    });

    const apiDomain = Fn.select(2, Fn.split('/', props.apiUrl));
    const stripPrefix = new CloudFrontFunction(this, 'StripApiPrefix', {
      code: FunctionCode.fromInline(STRIP_API_PREFIX),
      runtime: FunctionRuntime.JS_2_0,
      comment: 'Plugboard console: /api/<route> → <route> on the HTTP API',
    });
    this.distribution = new Distribution(this, 'Distribution', {
      comment: 'Plugboard console',
      defaultRootObject: 'index.html',
      httpVersion: HttpVersion.HTTP2_AND_3,
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        responseHeadersPolicy: ResponseHeadersPolicy.SECURITY_HEADERS,
        compress: true,
      },
      additionalBehaviors: {
        '/api/*': {
          origin: new HttpOrigin(apiDomain, { protocolPolicy: OriginProtocolPolicy.HTTPS_ONLY }),
          viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
          allowedMethods: AllowedMethods.ALLOW_ALL,
          // Every answer is per caller (its bearer token): nothing is cached, everything but Host is passed.
          cachePolicy: CachePolicy.CACHING_DISABLED,
          originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
          functionAssociations: [{ function: stripPrefix, eventType: FunctionEventType.VIEWER_REQUEST }],
        },
      },
    });
    Validations.of(this.distribution).acknowledge(
      {
        id: 'AwsSolutions-CFR1',
        reason:
          'Operators sign in from wherever they work; access is decided by OIDC sign-in, not by country.',
      },
      {
        id: 'AwsSolutions-CFR2',
        reason:
          'Static files and an API that authorizes every call with a JWT and is throttled by API Gateway; a WAF web ACL can be attached by the deployer where a policy asks for one.',
      },
      {
        id: 'AwsSolutions-CFR3',
        reason:
          'Access logs would need a logging bucket with ACLs; API calls are logged by API Gateway and the API function.',
      },
      {
        id: 'AwsSolutions-CFR4',
        reason:
          'The default *.cloudfront.net certificate (TLSv1 floor set by CloudFront); a custom domain with its own certificate and TLSv1.2_2021 is the deployer’s choice.',
      },
    );
    this.url = `https://${this.distribution.distributionDomainName}`;

    const dist =
      props.distDirectory ?? buildConsoleSync(mkdtempSync(join(tmpdir(), 'plugboard-console-'))).outdir;
    new BucketDeployment(this, 'Deploy', {
      destinationBucket: this.bucket,
      sources: [
        Source.asset(dist),
        Source.jsonData('config.json', {
          apiBase: '/api',
          auth: {
            kind: 'oidc',
            issuer: props.oidcIssuer,
            clientId: props.oidcClientId,
            scopes: Object.values(SCOPES),
          },
          ...(props.logGroupNames !== undefined && props.logGroupNames.length > 0
            ? { logs: { region: Stack.of(this).region, logGroups: [...props.logGroupNames] } }
            : {}),
          pollMs: 2000,
        }),
      ],
      distribution: this.distribution,
      distributionPaths: ['/index.html', '/app.js', '/app.css', '/config.json'],
      prune: true,
      memoryLimit: 256,
      cacheControl: [],
    });
    // The deployment's handler is a singleton function of the stack (one per memory size), not a child
    // of the deployment: its findings are acknowledged where it is.
    const handlers = Stack.of(this).node.children.filter((c) =>
      c.node.id.startsWith('Custom::CDKBucketDeployment'),
    );
    const bucketLogicalId = Stack.of(this).getLogicalId(this.bucket.node.defaultChild as CfnBucket);
    const copies =
      'The CDK BucketDeployment handler copies the console from the CDK asset bucket into this bucket: CDK grants it read (GetBucket*, GetObject*, List*) on the asset bucket and read/write/delete (Abort*, DeleteObject*) on every object key of the console bucket, nothing else.';
    for (const handler of handlers) {
      Validations.of(handler).acknowledge(
        {
          id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
          reason:
            'The CDK BucketDeployment handler’s role uses AWSLambdaBasicExecutionRole for its own logs only.',
        },
        ...['s3:Abort*', 's3:DeleteObject*', 's3:GetBucket*', 's3:GetObject*', 's3:List*'].map((action) => ({
          id: `AwsSolutions-IAM5[Action::${action}]`,
          reason: copies,
        })),
        { id: `AwsSolutions-IAM5[Resource::<${bucketLogicalId}.Arn>/*]`, reason: copies },
        {
          id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*]',
          reason: copies,
        },
        {
          id: 'AwsSolutions-IAM5[Resource::*]',
          reason:
            'cloudfront:CreateInvalidation and GetInvalidation (invalidating the console files after a deployment) take the distribution in the request; CDK grants them on *.',
        },
        {
          id: 'AwsSolutions-L1',
          reason: 'The runtime of the CDK BucketDeployment handler is chosen by aws-cdk-lib.',
        },
        {
          id: 'Serverless-LambdaDLQ',
          reason: 'A CloudFormation custom resource handler: CloudFormation is its caller and retrier.',
        },
        {
          id: 'Serverless-LambdaTracing',
          reason: 'The CDK BucketDeployment handler runs once per deployment.',
        },
        {
          id: 'Serverless-LambdaLatestVersion',
          reason: 'The runtime of the CDK BucketDeployment handler is chosen by aws-cdk-lib.',
        },
      );
    }
  }
}

function validate(props: ConsoleHostingProps): void {
  const problems: string[] = [];
  if (!Token.isUnresolved(props.oidcIssuer) && !/^https:\/\/[^\s/]+/.test(props.oidcIssuer))
    problems.push(`oidcIssuer is "${props.oidcIssuer}"; use the https:// URL of the OIDC issuer`);
  if (!Token.isUnresolved(props.oidcClientId) && props.oidcClientId.trim() === '')
    problems.push(
      'oidcClientId is empty; name the public OIDC client of the console (--context consoleClientId=…)',
    );
  if (problems.length > 0) throw new PlugboardCdkError(`ConsoleHosting: ${problems.join('; ')}`);
}
