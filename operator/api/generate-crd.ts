/**
 * `npm run generate:crd`: writes the MeshInstallation CRD generated from operator/api/*.ts to
 * crds/. With `--check`, writes nothing and exits 1 if the committed file is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CRD_FILE, renderCrdYaml } from './crd.ts';

const path = join(import.meta.dirname, '..', '..', CRD_FILE);
const generated = renderCrdYaml();

if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(path, 'utf8');
  } catch {
    // A missing file is simply stale.
  }
  if (committed !== generated) {
    process.stderr.write(`${CRD_FILE} is stale: run npm run generate:crd and commit the result\n`);
    process.exitCode = 1;
  }
} else {
  writeFileSync(path, generated);
  process.stdout.write(`wrote ${CRD_FILE}\n`);
}
