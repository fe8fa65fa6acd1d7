import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = join(import.meta.dirname, '..', '..');

test('the operator bundle (what bin/meshwright.mjs runs) loads client-node only on demand: no static import of it anywhere', async () => {
  // The same build as bin/meshwright.mjs, in memory, with esbuild's record of every import.
  const result = await build({
    entryPoints: [join(root, 'operator', 'cli', 'meshwright.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node20',
    packages: 'external', write: false, metafile: true, logLevel: 'silent', outfile: 'meshwright.mjs',
  });
  const imports = Object.values(result.metafile.inputs).flatMap((input) => input.imports);
  const clientNode = imports.filter((i) => i.path === '@kubernetes/client-node');
  assert.ok(clientNode.length > 0, 'client-node is still used (CLI commands, exec-plugin kubeconfigs)');
  // A static import would load its generated API (about 55 MB of RSS) into every operator process.
  assert.deepEqual(clientNode.filter((i) => i.kind !== 'dynamic-import'), []);
  // tsx is not part of what runs either: the bundle is plain JavaScript.
  assert.deepEqual(imports.filter((i) => i.path.startsWith('tsx')), []);
});

test('bin/meshwright.mjs starts Node with the operator\'s flags (OPERATOR_NODE_FLAGS), the same the Deployment sets', async () => {
  const { OPERATOR_NODE_FLAGS } = await import('../deploy/manifests.ts');
  const { readFileSync } = await import('node:fs');
  const firstLine = readFileSync(join(root, 'bin', 'meshwright.mjs'), 'utf8').split('\n')[0];
  assert.equal(firstLine, `#!/usr/bin/env -S node ${OPERATOR_NODE_FLAGS.join(' ')}`);
  assert.ok(OPERATOR_NODE_FLAGS.length > 0);
});
