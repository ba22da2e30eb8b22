/**
 * The entry point of the `@plugboard/cli` bundle (packages/cli/build.mjs): the same CLI as
 * bin/plugboard.js in the checkout, compiled, with its version from the package.
 */

/** Set by the build from packages/cli/package.json. */
declare const PLUGBOARD_CLI_VERSION: string;

// The SDK warns on every Node 20 process that future SDK releases need Node 22: noise for operators
// (the bundle holds SDK versions that support Node 20). Set the variable to "false" to see it. Set
// before the CLI's modules (and the SDK in them) are evaluated, hence the dynamic import.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { main } = await import('../../../bin/cli/main.js');
process.exitCode = await main(process.argv, { version: PLUGBOARD_CLI_VERSION });
