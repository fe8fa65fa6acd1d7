/**
 * YAML in rendered ConfigMaps reads the same to a YAML 1.1 reader (the meshes' Go code) as to a
 * YAML 1.2 reader (ours, and every test), for every mesh, profile and example.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { withSpecDefaults } from '../api/defaults.ts';
import type { DefaultedMeshInstallation } from '../api/meshinstallation.ts';
import { PROFILES, type MeshInstallationSpec } from '../api/spec.ts';
import { builtInDistributions } from './built-in.ts';
import { configYaml } from './config-yaml.ts';
import { renderInstallation } from './render.ts';

const repositoryRoot = join(import.meta.dirname, '..', '..');

/** A MeshInstallation as the API server hands it over, `spec` defaulted. */
function installation(name: string, spec: MeshInstallationSpec): DefaultedMeshInstallation {
  return { apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation', metadata: { name }, spec: withSpecDefaults(spec) } as DefaultedMeshInstallation;
}

const BASE: Record<string, MeshInstallationSpec> = {
  istio: { mesh: 'istio', version: '1.31.1', namespace: 'istio-system' },
  linkerd: { mesh: 'linkerd', version: 'edge-26.8.3', namespace: 'linkerd' },
};

/**
 * Values a user may legitimately write that a YAML 1.1 reader would turn into something else: a
 * namespace `no`, a trust domain `on`, the log level `off`, a collector at host `10`, port 20
 * (`10:20` is base 60 in YAML 1.1).
 */
const AMBIGUOUS: Partial<MeshInstallationSpec> = {
  namespace: 'no',
  meshConfig: {
    trustDomain: 'on',
    tracing: { enabled: true, collector: { protocol: 'OpenTelemetry', address: '10:20' } },
    proxy: { logLevel: 'off' },
  },
};

/** Every case: each mesh in each profile, with ambiguous values, and every example. */
function cases(): Array<[string, DefaultedMeshInstallation]> {
  const result: Array<[string, DefaultedMeshInstallation]> = [];
  for (const [mesh, base] of Object.entries(BASE)) {
    for (const profile of PROFILES) result.push([`${mesh} profile ${profile}`, installation(mesh, { ...base, profile })]);
    result.push([`${mesh} with YAML 1.1 look-alikes`, installation(mesh, { ...base, ...AMBIGUOUS })]);
  }
  const examples = join(repositoryRoot, 'examples');
  for (const file of readdirSync(examples).filter((f) => f.endsWith('.yaml'))) {
    const object = parse(readFileSync(join(examples, file), 'utf8')) as { metadata: { name: string }; spec: MeshInstallationSpec };
    result.push([`examples/${file}`, installation(object.metadata.name, object.spec)]);
  }
  return result;
}

test('every rendered ConfigMap holding YAML reads the same under YAML 1.1 as under 1.2', () => {
  let documents = 0;
  const seen = new Set<string>();
  for (const [name, mi] of cases()) {
    const distribution = builtInDistributions.find((d) => d.mesh === mi.spec.mesh)!;
    const objects = renderInstallation(distribution, { installation: mi, resolved: distribution.resolve(mi) });
    for (const configMap of objects.filter((o) => o.kind === 'ConfigMap')) {
      for (const [key, text] of Object.entries((configMap as { data?: Record<string, string> }).data ?? {})) {
        let yaml12: unknown;
        try {
          yaml12 = parse(text);
        } catch {
          continue; // not YAML (a PEM bundle, say)
        }
        if (typeof yaml12 !== 'object' || yaml12 === null) continue; // a scalar, not a document of settings
        documents += 1;
        seen.add(`${configMap.metadata.name}/${key}`);
        assert.deepEqual(parse(text, { version: '1.1' }), yaml12, `${name}: ConfigMap ${configMap.metadata.namespace}/${configMap.metadata.name} key ${key} reads differently under YAML 1.1`);
      }
    }
  }
  // The documents this test exists for were really looked at.
  for (const expected of ['linkerd-config/values', 'istio/mesh']) assert.ok(seen.has(expected), `${expected} was checked`);
  assert.ok(documents >= 2 * PROFILES.length);
});

test('configYaml quotes what YAML 1.1 would read as a boolean, null, number or timestamp', () => {
  const lookAlikes = ['y', 'Y', 'yes', 'Yes', 'YES', 'n', 'N', 'no', 'No', 'NO', 'true', 'True', 'TRUE', 'false', 'False', 'FALSE',
    'on', 'On', 'ON', 'off', 'Off', 'OFF', '~', 'null', 'Null', 'NULL', '', '0777', '0x1F', '0b101', '1_000', '1:20', '2026-01-01', '.inf'];
  const values = Object.fromEntries(lookAlikes.map((text, i) => [`k${i}`, text]));
  const text = configYaml({ ...values, [lookAlikes[0]!]: 'key too', plain: 'warn,linkerd=info', nested: { logHTTPHeaders: 'off' } });
  const read = parse(text, { version: '1.1' }) as Record<string, unknown>;
  for (const [key, value] of Object.entries(values)) assert.equal(read[key], value, `${JSON.stringify(value)} stays a string`);
  assert.equal(read.y, 'key too', 'keys are quoted too');
  assert.deepEqual(read.nested, { logHTTPHeaders: 'off' });
  assert.match(text, /logHTTPHeaders: "off"/, 'written as upstream writes it');
  assert.match(text, /plain: warn,linkerd=info/, 'ordinary strings stay plain');
  assert.ok(!text.startsWith('%YAML'), 'no directive');
});
