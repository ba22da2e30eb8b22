/**
 * The template model: reads a CDK cloud assembly directory (`manifest.json`, `*.template.json`,
 * `*.assets.json`) into stacks in dependency order, each with its template and the local directory of
 * every file asset (so a Lambda function's `Code.S3Key` leads to its esbuild bundle).
 */
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { AssemblyError } from './errors.js';

const resourceSchema = z.looseObject({
  Type: z.string().min(1),
  Properties: z.record(z.string(), z.unknown()).optional(),
  DependsOn: z.union([z.string(), z.array(z.string())]).optional(),
  Condition: z.string().optional(),
});

const outputSchema = z.looseObject({
  Value: z.unknown(),
  Export: z.object({ Name: z.unknown() }).optional(),
  Condition: z.string().optional(),
  Description: z.string().optional(),
});

const parameterSchema = z.looseObject({
  Type: z.string(),
  Default: z.unknown().optional(),
});

const templateSchema = z.looseObject({
  Resources: z.record(z.string(), resourceSchema),
  Outputs: z.record(z.string(), outputSchema).optional(),
  Parameters: z.record(z.string(), parameterSchema).optional(),
  Conditions: z.record(z.string(), z.unknown()).optional(),
  Mappings: z.record(z.string(), z.record(z.string(), z.record(z.string(), z.unknown()))).optional(),
  Transform: z.unknown().optional(),
});

export type CfnTemplate = z.infer<typeof templateSchema>;
export type CfnResource = z.infer<typeof resourceSchema>;
export type CfnOutput = z.infer<typeof outputSchema>;
export type CfnParameter = z.infer<typeof parameterSchema>;

const artifactSchema = z.looseObject({
  type: z.string(),
  properties: z.record(z.string(), z.unknown()).optional(),
  dependencies: z.array(z.string()).optional(),
  displayName: z.string().optional(),
});

const manifestSchema = z.looseObject({
  version: z.string().optional(),
  artifacts: z.record(z.string(), artifactSchema).optional(),
});

const stackPropertiesSchema = z.looseObject({
  templateFile: z.string().min(1),
  stackName: z.string().min(1).optional(),
});

const assetManifestSchema = z.looseObject({
  files: z
    .record(
      z.string(),
      z.looseObject({
        source: z.looseObject({ path: z.string().optional(), packaging: z.string().optional() }),
        destinations: z.record(z.string(), z.looseObject({ objectKey: z.string() })),
      }),
    )
    .optional(),
});

/** A file asset of a stack, as the asset manifest describes it. */
export interface FileAsset {
  /** The S3 object key CloudFormation references (`Code.S3Key`). */
  readonly objectKey: string;
  /** Absolute path of the asset's source: a directory (packaging `zip`) or a file. */
  readonly sourcePath: string;
  readonly packaging: 'zip' | 'file';
}

export interface StackArtifact {
  /** Artifact ID in the manifest (also the construct path of the stack). */
  readonly artifactId: string;
  /** The CloudFormation stack name. */
  readonly stackName: string;
  readonly template: CfnTemplate;
  readonly templateFile: string;
  /** IDs of the stack artifacts this stack depends on. */
  readonly dependencies: readonly string[];
  /** File assets by S3 object key. */
  readonly assets: ReadonlyMap<string, FileAsset>;
  /** The (possibly nested) assembly directory the stack was read from. */
  readonly assemblyDirectory: string;
}

export interface CloudAssembly {
  readonly directory: string;
  /** Every stack, dependencies first. */
  readonly stacks: readonly StackArtifact[];
}

/** Reads a cloud assembly (the `cdk synth -o <dir>` output) and orders its stacks by dependency. */
export async function readAssembly(directory: string): Promise<CloudAssembly> {
  const root = resolve(directory);
  const stacks = await readStacks(root, root);
  return { directory: root, stacks: orderStacks(root, stacks) };
}

async function readJson(root: string, file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new AssemblyError(root, `cannot read ${what} ${file}`, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new AssemblyError(root, `${what} ${file} is not valid JSON`, { cause: error });
  }
}

function parse<T>(root: string, schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 5)
      .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
      .join('; ');
    throw new AssemblyError(root, `${what} is malformed: ${issues}`);
  }
  return parsed.data;
}

async function readStacks(root: string, directory: string): Promise<StackArtifact[]> {
  const manifestFile = join(directory, 'manifest.json');
  const manifest = parse(
    root,
    manifestSchema,
    await readJson(root, manifestFile, 'manifest'),
    `manifest ${manifestFile}`,
  );
  const artifacts = manifest.artifacts ?? {};
  const assetManifests = new Map<string, string>();
  for (const [id, artifact] of Object.entries(artifacts)) {
    if (artifact.type === 'cdk:asset-manifest') {
      const file = artifact.properties?.file;
      if (typeof file !== 'string')
        throw new AssemblyError(root, `asset manifest artifact ${id} has no file`);
      assetManifests.set(id, join(directory, file));
    }
  }
  const stacks: StackArtifact[] = [];
  for (const [id, artifact] of Object.entries(artifacts)) {
    if (artifact.type === 'cdk:cloud-assembly') {
      const nested = artifact.properties?.directoryName;
      if (typeof nested !== 'string') {
        throw new AssemblyError(root, `nested assembly artifact ${id} has no directoryName`);
      }
      stacks.push(...(await readStacks(root, join(directory, nested))));
      continue;
    }
    if (artifact.type !== 'aws:cloudformation:stack') continue;
    const properties = parse(root, stackPropertiesSchema, artifact.properties ?? {}, `stack artifact ${id}`);
    const templateFile = join(directory, properties.templateFile);
    const template = parse(
      root,
      templateSchema,
      await readJson(root, templateFile, 'template'),
      `template ${templateFile}`,
    );
    const dependencies = artifact.dependencies ?? [];
    const assets = new Map<string, FileAsset>();
    for (const dependency of dependencies) {
      const assetFile = assetManifests.get(dependency);
      if (assetFile !== undefined) {
        for (const asset of await readAssetManifest(root, directory, assetFile))
          assets.set(asset.objectKey, asset);
      }
    }
    stacks.push({
      artifactId: id,
      stackName: properties.stackName ?? id,
      template,
      templateFile,
      dependencies: dependencies.filter((d) => artifacts[d]?.type === 'aws:cloudformation:stack'),
      assets,
      assemblyDirectory: directory,
    });
  }
  return stacks;
}

async function readAssetManifest(root: string, directory: string, file: string): Promise<FileAsset[]> {
  const manifest = parse(
    root,
    assetManifestSchema,
    await readJson(root, file, 'asset manifest'),
    `asset manifest ${file}`,
  );
  const assets: FileAsset[] = [];
  for (const [hash, entry] of Object.entries(manifest.files ?? {})) {
    const path = entry.source.path;
    if (path === undefined) continue; // an executable-produced asset: never a Lambda bundle we can host
    const sourcePath = isAbsolute(path) ? path : join(directory, path);
    const packaging = entry.source.packaging === 'zip' ? 'zip' : 'file';
    for (const destination of Object.values(entry.destinations)) {
      assets.push({ objectKey: destination.objectKey, sourcePath, packaging });
    }
    if (Object.keys(entry.destinations).length === 0) {
      throw new AssemblyError(root, `asset ${hash} in ${file} has no destination`);
    }
  }
  return assets;
}

function orderStacks(root: string, stacks: readonly StackArtifact[]): StackArtifact[] {
  const byId = new Map(stacks.map((stack) => [stack.artifactId, stack]));
  const ordered: StackArtifact[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (stack: StackArtifact, chain: readonly string[]) => {
    const seen = state.get(stack.artifactId);
    if (seen === 'done') return;
    if (seen === 'visiting') {
      throw new AssemblyError(root, `stack dependency cycle: ${[...chain, stack.artifactId].join(' -> ')}`);
    }
    state.set(stack.artifactId, 'visiting');
    for (const dependency of stack.dependencies) {
      const target = byId.get(dependency);
      if (target !== undefined) visit(target, [...chain, stack.artifactId]);
    }
    state.set(stack.artifactId, 'done');
    ordered.push(stack);
  };
  for (const stack of stacks) visit(stack, []);
  return ordered;
}

/**
 * The local directory holding a Lambda function's bundle, from its `Code.S3Key`. Only directory
 * assets (packaging `zip`, i.e. what `NodejsFunction` and `Code.fromAsset(dir)` produce) can be hosted.
 */
export async function assetDirectory(stack: StackArtifact, objectKey: string): Promise<string> {
  const asset = stack.assets.get(objectKey);
  if (asset === undefined) {
    const known = [...stack.assets.keys()].filter((key) => !key.endsWith('.json'));
    throw new AssemblyError(
      stack.assemblyDirectory,
      `stack ${stack.stackName} references the asset "${objectKey}", which its asset manifest does not list (known: ${known.join(', ') || 'none'})`,
    );
  }
  let isDirectory = false;
  try {
    isDirectory = (await stat(asset.sourcePath)).isDirectory();
  } catch (error) {
    throw new AssemblyError(
      stack.assemblyDirectory,
      `asset ${objectKey} of stack ${stack.stackName} points at ${asset.sourcePath}, which does not exist`,
      { cause: error },
    );
  }
  if (!isDirectory) {
    throw new AssemblyError(
      stack.assemblyDirectory,
      `asset ${objectKey} of stack ${stack.stackName} is the file ${asset.sourcePath}; the local Lambda runner hosts directory assets (bundles) only`,
    );
  }
  return asset.sourcePath;
}
