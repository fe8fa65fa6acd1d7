#!/usr/bin/env node
// The package's command: TypeScript sources run through tsx's loader, so no build step is needed.
import { register } from 'tsx/esm/api';

// Third-party packages are plain JavaScript: load them with Node's own loader before tsx's hooks
// are registered. Modules loaded through the hooks also pass through tsx's hooks thread, which for
// these (the Kubernetes client alone is some 3,000 modules) costs the operator about 90 MB of RSS
// (bench/memory.ts). reflect-metadata first: @peculiar/x509 needs the Reflect polyfill at load.
await import('reflect-metadata');
await Promise.all(['@kubernetes/client-node', '@peculiar/x509', '@sinclair/typebox', '@sinclair/typebox/value', 'pino', 'prom-client', 'semver', 'undici', 'yaml']
  .map((name) => import(name)));
register();
const { main } = await import('../operator/cli/meshwright.ts');
const code = await main(process.argv.slice(2));
if (code >= 0) process.exitCode = code;
