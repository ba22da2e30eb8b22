/**
 * Reading the code blocks of a Markdown guide for its tests: blocks are fenced with a title
 * (```yaml title="plugin.template.yaml"), and YAML is read with the CloudFormation short forms
 * (`!Sub`, `!Ref`, `!GetAtt`…) turned into their long forms, through Python's PyYAML (installed with
 * cfn-lint), so the tests read the templates exactly as written.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Every titled block of a Markdown file: title → text. */
export function titledBlocks(markdownPath: string): Map<string, string> {
  const text = readFileSync(markdownPath, 'utf8');
  const blocks = new Map<string, string>();
  for (const match of text.matchAll(/```[a-z]+ title="([^"]+)"\n([\s\S]*?)```/g)) {
    const [, title, body] = match;
    if (title !== undefined && body !== undefined) blocks.set(title, body);
  }
  return blocks;
}

const READ_YAML = `
import json, sys, yaml
class Loader(yaml.SafeLoader):
    pass
def intrinsic(loader, suffix, node):
    name = 'Ref' if suffix == 'Ref' else 'Fn::' + suffix
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == 'GetAtt':
            value = value.split('.', 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}
Loader.add_multi_constructor('!', intrinsic)
print(json.dumps(yaml.load(sys.stdin.read(), Loader=Loader)))
`;

/** Parses YAML (with CloudFormation short forms) to plain JSON values. */
export function readYaml(text: string): unknown {
  const result = spawnSync('python3', ['-c', READ_YAML], { input: text, encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    throw new Error(
      `could not read YAML with python3 and PyYAML (installed with cfn-lint: pip install cfn-lint): ${result.error?.message ?? result.stderr}`,
    );
  }
  return JSON.parse(result.stdout) as unknown;
}

/** Runs cfn-lint on the files; returns its output and exit status (0 = no error, warning or info). */
export function lint(files: readonly string[]): { readonly status: number | null; readonly output: string } {
  const result = spawnSync('cfn-lint', ['--', ...files], { encoding: 'utf8', timeout: 300_000 });
  if (result.error) {
    throw new Error(`cfn-lint could not run (pip install cfn-lint): ${result.error.message}`);
  }
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}

/** Every value found under `key` anywhere in `value`. */
export function valuesUnder(value: unknown, key: string): unknown[] {
  if (Array.isArray(value)) return value.flatMap((item) => valuesUnder(item, key));
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([name, inner]) => [
    ...(name === key ? [inner] : []),
    ...valuesUnder(inner, key),
  ]);
}
