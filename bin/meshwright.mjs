#!/usr/bin/env node
// The package's command: TypeScript sources run through tsx's loader, so no build step is needed.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../operator/cli/meshwright.ts');
const code = await main(process.argv.slice(2));
if (code >= 0) process.exitCode = code;
