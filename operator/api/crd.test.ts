import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { parse } from 'yaml';
import { buildCrd, CRD_FILE, renderCrdYaml, toJsonSchema, type JsonSchema } from './crd.ts';
import { findStructuralViolations } from './structural.ts';
import { DURATION_MAX_LENGTH, DURATION_PATTERN, DNS_LABEL_PATTERN } from './schema-helpers.ts';
import { ISTIO_VERSION_PATTERN, LINKERD_VERSION_PATTERN } from './spec.ts';

const repositoryRoot = join(import.meta.dirname, '..', '..');

test(`${CRD_FILE} is up to date with operator/api (run npm run generate:crd if this fails)`, () => {
  const committed = readFileSync(join(repositoryRoot, CRD_FILE), 'utf8');
  // Compare line by line first so a failure points at the first stale line, not at a 50 kB blob.
  const committedLines = committed.split('\n');
  const generatedLines = renderCrdYaml().split('\n');
  const firstDifference = generatedLines.findIndex((line, index) => committedLines[index] !== line);
  assert.equal(firstDifference, -1, `first stale line ${firstDifference + 1}: committed ${JSON.stringify(committedLines[firstDifference])}, generated ${JSON.stringify(generatedLines[firstDifference])}`);
  assert.equal(committed, renderCrdYaml());
});

test('the committed CRD parses to exactly the object the generator builds', () => {
  const committed = parse(readFileSync(join(repositoryRoot, CRD_FILE), 'utf8')) as unknown;
  assert.deepEqual(committed, buildCrd());
});

type Crd = {
  spec: {
    group: string; scope: string;
    names: { kind: string; plural: string; singular: string; listKind: string; shortNames: string[]; categories: string[] };
    versions: { name: string; served: boolean; storage: boolean; subresources: unknown; additionalPrinterColumns: { name: string; type: string; jsonPath: string; description?: string; priority?: number }[]; schema: { openAPIV3Schema: JsonSchema } }[];
  };
};
const crd = buildCrd() as unknown as Crd;
const version = crd.spec.versions[0]!;
const root = version.schema.openAPIV3Schema;

/** The schema node at a dotted path below the root (`spec.upgrade.strategy`; `[]` steps into items). */
function node(path: string): JsonSchema {
  let current: JsonSchema = root;
  for (const part of path.split('.')) {
    if (part === '[]') current = current.items as JsonSchema;
    else current = (current.properties as Record<string, JsonSchema>)[part]!;
    assert.ok(current, `no schema node at ${path}`);
  }
  return current;
}

function rules(path: string): { rule: string; message?: string; messageExpression?: string; fieldPath?: string }[] {
  return (node(path)['x-kubernetes-validations'] ?? []) as { rule: string }[];
}

test('the CRD names the resource as the brief says: meshwright.dev/v1alpha1 MeshInstallation, cluster-scoped, short name mi', () => {
  assert.equal(crd.spec.group, 'meshwright.dev');
  assert.equal(crd.spec.scope, 'Cluster');
  assert.deepEqual(crd.spec.names, {
    kind: 'MeshInstallation', listKind: 'MeshInstallationList', plural: 'meshinstallations', singular: 'meshinstallation',
    shortNames: ['mi'], categories: ['meshwright', 'mesh'],
  });
  assert.equal(crd.spec.versions.length, 1);
  assert.equal(version.name, 'v1alpha1');
  assert.equal(version.served, true);
  assert.equal(version.storage, true);
  assert.deepEqual(version.subresources, { status: {} });
});

test('printer columns: Mesh, Version, Ready, Proxies, DataPlane, Progress, Age by default; Desired, Namespace, Reason, Outdated with -o wide', () => {
  // Read from the committed YAML: that is what kubectl users get.
  const committed = parse(readFileSync(join(repositoryRoot, CRD_FILE), 'utf8')) as Crd;
  const columns = committed.spec.versions[0]!.additionalPrinterColumns;
  const ready = '.status.conditions[?(@.type=="Ready")]';
  assert.deepEqual(columns.map(({ name, type, jsonPath, priority }) => [name, type, jsonPath, priority ?? 0]), [
    ['Mesh', 'string', '.spec.mesh', 0],
    ['Version', 'string', '.status.version', 0],
    ['Ready', 'string', `${ready}.status`, 0],
    ['Proxies', 'integer', '.status.dataPlane.injectedPods', 0],
    ['DataPlane', 'string', '.status.dataPlane.rollout.progress', 0],
    ['Progress', 'string', '.status.progress', 0],
    ['Age', 'date', '.metadata.creationTimestamp', 0],
    ['Desired', 'string', '.spec.version', 1],
    ['Namespace', 'string', '.spec.namespace', 1],
    ['Reason', 'string', `${ready}.reason`, 1],
    ['Outdated', 'integer', '.status.dataPlane.outdatedPods', 1],
  ]);
  for (const column of columns) assert.ok((column.description ?? '').length >= 10, `column ${column.name} is described`);
  // Every column must point at a field the schema declares, or kubectl shows an empty column
  // forever: a filter `[?(@.field=="x")]` steps into the list's items and needs `field` there too.
  for (const column of columns) {
    if (column.jsonPath.startsWith('.metadata.')) continue;
    const steps = column.jsonPath.slice(1).replace(/\[\?\(@\.([a-zA-Z]+)=="[^"]*"\)\]/g, '.[].$1?').split('.');
    let current: JsonSchema = committed.spec.versions[0]!.schema.openAPIV3Schema;
    for (const step of steps) {
      if (step === '[]') {
        current = current.items as JsonSchema;
      } else if (step.endsWith('?')) {
        // The filter's field is checked in place; the path continues from the list item.
        assert.ok((current.properties as Record<string, JsonSchema> | undefined)?.[step.slice(0, -1)], `column ${column.name}: ${column.jsonPath} filters on undeclared field ${step.slice(0, -1)}`);
        continue;
      } else {
        current = (current.properties as Record<string, JsonSchema> | undefined)?.[step] as JsonSchema;
      }
      assert.ok(current, `column ${column.name} points at undeclared ${column.jsonPath} (no ${step})`);
    }
    assert.equal(current.type, column.type === 'date' ? 'string' : column.type, `column ${column.name}: schema type of ${column.jsonPath}`);
  }
});

test('the schema is structural and follows the project rules (descriptions, CEL messages, bounded CEL inputs)', () => {
  assert.deepEqual(findStructuralViolations(root), []);
});

test('no TypeBox internals leak into the CRD', () => {
  const yaml = renderCrdYaml();
  for (const leak of ['$id', '$ref', 'Symbol(', 'TypeBox', 'patternProperties', 'const:', '[Kind]']) {
    assert.ok(!yaml.includes(leak), `CRD YAML contains ${leak}`);
  }
  assert.equal(JSON.stringify(toJsonSchema(Type.Optional(Type.String({ description: 'x' })))), '{"description":"x","type":"string"}');
});

test('spec: mesh, version and namespace are required; mesh and namespace are immutable by transition rule', () => {
  assert.deepEqual(node('spec').required, ['mesh', 'version', 'namespace']);
  assert.deepEqual(root.required, ['apiVersion', 'kind', 'metadata', 'spec']);
  for (const field of ['mesh', 'namespace']) {
    const immutability = rules(`spec.${field}`).find((r) => r.rule === 'self == oldSelf');
    assert.ok(immutability, `spec.${field} has no self == oldSelf rule`);
    assert.match(immutability.message ?? '', new RegExp(`^${field} is immutable`));
  }
  assert.deepEqual(node('spec.mesh').enum, ['istio', 'linkerd']);
});

test('keyed lists: gateways by name, gateway ports by name, status conditions by type, status revisions by name', () => {
  for (const [path, key] of [['spec.gateways', 'name'], ['spec.gateways.[].service.ports', 'name'], ['status.conditions', 'type'], ['status.revisions', 'name']] as const) {
    assert.equal(node(path)['x-kubernetes-list-type'], 'map', path);
    assert.deepEqual(node(path)['x-kubernetes-list-map-keys'], [key], path);
  }
  assert.equal(node('spec.injection.namespaces')['x-kubernetes-list-type'], 'set');
});

test('declared defaults', () => {
  const expected: Record<string, unknown> = {
    'spec.profile': 'default',
    'spec.paused': false,
    'spec.meshConfig': {},
    'spec.meshConfig.mtls.mode': 'PERMISSIVE',
    'spec.meshConfig.trustDomain': 'cluster.local',
    'spec.meshConfig.outboundTrafficPolicy': 'ALLOW_ANY',
    'spec.certificateAuthority.type': 'SelfSigned',
    'spec.certificateAuthority.rootTTL': '87600h',
    'spec.certificateAuthority.intermediateTTL': '8760h',
    'spec.certificateAuthority.rootRotation.automatic': true,
    'spec.injection.restartWorkloads.maxUnavailable': '25%',
    'spec.upgrade.strategy': 'InPlace',
    'spec.upgrade.progressDeadline': '10m',
    'spec.upgrade.rollbackOnFailure': true,
    'spec.gateways.[].service.ports.[].protocol': 'TCP',
  };
  for (const [path, value] of Object.entries(expected)) assert.deepEqual(node(path).default, value, path);
  // A defaulted field is not required: kubectl explain would mark it "-required-" otherwise.
  assert.ok(!(node('spec.upgrade').required as string[] | undefined)?.includes('strategy'));
  assert.match(node('spec.upgrade.progressDeadline').description as string, /Defaults to 10m\.$/);
  // Mesh- or profile-dependent values have no schema default: the operator must not invent one silently.
  for (const path of ['spec.controlPlane.replicas', 'spec.meshConfig.tracing.samplingPercent', 'spec.meshConfig.proxy.holdApplicationUntilProxyStarts', 'spec.gateways.[].service.type']) {
    assert.equal(node(path).default, undefined, path);
  }
});

test('every field of spec and status is described, so kubectl explain reads well', () => {
  const undocumented: string[] = [];
  const visit = (schema: JsonSchema, path: string) => {
    if (typeof schema.description !== 'string' || schema.description.length < 10) undocumented.push(path);
    for (const [field, child] of Object.entries((schema.properties ?? {}) as Record<string, JsonSchema>)) visit(child, `${path}.${field}`);
    if (schema.items) visit(schema.items as JsonSchema, `${path}[]`);
  };
  visit(node('spec'), 'spec');
  visit(node('status'), 'status');
  assert.deepEqual(undocumented, []);
});

test('CEL rules cover what the API server can judge', () => {
  const specRules = rules('spec');
  const byFieldPath = (fieldPath: string) => specRules.filter((r) => r.fieldPath === fieldPath);
  assert.equal(byFieldPath('.version').length, 2, 'one version rule per mesh');
  for (const fieldPath of ['.gateways', '.certificateAuthority.keyAlgorithm', '.meshConfig.outboundTrafficPolicy',
    '.meshConfig.tracing.samplingPercent', '.meshConfig.tracing.collector.protocol', '.upgrade.strategy', '.injection.namespaces']) {
    assert.equal(byFieldPath(fieldPath).length, 1, `spec rule for ${fieldPath}`);
  }
  assert.ok(rules('spec.certificateAuthority').some((r) => r.fieldPath === '.secretRef' && /External/.test(r.rule)));
  assert.ok(rules('spec.upgrade.progressDeadline').some((r) => r.rule.includes("duration('10s')")));
  assert.ok(rules('spec.gateways.[]').some((r) => r.fieldPath === '.replicas'));
  assert.ok(rules('spec.gateways.[].service.ports').some((r) => r.rule.includes('exists_one')));
  assert.deepEqual(node('spec.gateways.[].service.externalTrafficPolicy').enum, ['Cluster', 'Local']);
  // The Service type defaults by gateway kind, so the rule sits on the gateway, where kind is known.
  assert.ok(rules('spec.gateways.[]').some((r) => r.fieldPath === '.service.externalTrafficPolicy' && r.rule.includes("self.kind == 'Ingress'")));
  assert.deepEqual(node('spec.gateways.[].securityContext.sysctls')['x-kubernetes-list-map-keys'], ['name']);
  assert.ok(rules('spec.gateways.[].securityContext').some((r) => r.fieldPath === '.runAsNonRoot' && r.rule.includes('self.runAsUser != 0')));
  for (const profile of ['seccompProfile', 'appArmorProfile']) assert.ok(rules(`spec.gateways.[].securityContext.${profile}`).some((r) => r.fieldPath === '.localhostProfile'), profile);
  assert.deepEqual([node('spec.gateways.[].service.ports.[].port').minimum, node('spec.gateways.[].service.ports.[].port').maximum], [1, 65535]);
  assert.deepEqual([node('spec.meshConfig.tracing.samplingPercent').minimum, node('spec.meshConfig.tracing.samplingPercent').maximum], [0, 100]);
  assert.deepEqual([node('spec.controlPlane.replicas').minimum, node('spec.controlPlane.replicas').maximum], [1, 100]);
  // Every resources block refuses a request above its limit, by quantity(): cpu, memory and
  // ephemeral-storage with a message naming both values, any other resource with a fixed one.
  for (const path of ['spec.controlPlane.resources', 'spec.meshConfig.proxy.resources', 'spec.gateways.[].resources']) {
    const limitRules = rules(path).filter((r) => r.rule.includes('isGreaterThan'));
    assert.equal(limitRules.length, 4, path);
    for (const name of ['cpu', 'memory', 'ephemeral-storage']) {
      const rule = limitRules.find((r) => r.rule.includes(`quantity(string(self.requests['${name}'])).isGreaterThan(quantity(string(self.limits['${name}'])))`));
      assert.ok(rule, `${path}: ${name}`);
      assert.equal(rule.messageExpression, `'requests.${name} (' + string(self.requests['${name}']) + ') must not exceed limits.${name} (' + string(self.limits['${name}']) + ')'`);
      assert.equal(rule.fieldPath, '.requests');
    }
    assert.ok(limitRules.some((r) => r.rule.includes('self.requests.exists(key,') && r.message === 'each request must be at most the limit of the same resource'), `${path}: other resources`);
  }
});

test('version patterns accept real releases of each mesh and nothing else', () => {
  const istio = new RegExp(ISTIO_VERSION_PATTERN);
  for (const v of ['1.31.1', '1.30.4', '1.9.0', '1.100.12']) assert.ok(istio.test(v), v);
  for (const v of ['1.31', 'v1.31.1', '1.31.1-rc.0', '2.20.0', '1.31.1 ', 'edge-26.8.3']) assert.ok(!istio.test(v), v);
  const linkerd = new RegExp(LINKERD_VERSION_PATTERN);
  for (const v of ['2.20', '2.20.1', 'edge-26.8.3', 'edge-25.12.10']) assert.ok(linkerd.test(v), v);
  for (const v of ['stable-2.14.10', '1.31.1', 'edge-2026.8.3', 'edge-26.8', '2', 'v2.20.0']) assert.ok(!linkerd.test(v), v);
});

test('the duration pattern accepts Go durations that cannot overflow CEL duration()', () => {
  const duration = new RegExp(DURATION_PATTERN, 'u');
  for (const d of ['30s', '10m', '1h30m', '1.5h', '500ms', '250us', '250µs', '87600h']) assert.ok(duration.test(d), d);
  for (const d of ['10', '10 m', '1d', '-5m', '1w', '', 'h', '1234567h', '.5h']) assert.ok(!duration.test(d), d);
  // The largest values a string of at most DURATION_MAX_LENGTH characters can spell (six-digit
  // hour components) must fit int64 nanoseconds, or CEL duration() would fail on accepted input.
  const unit: Record<string, number> = { h: 3600e9, m: 60e9, s: 1e9, ms: 1e6, us: 1e3, µs: 1e3, ns: 1 };
  const nanoseconds = (d: string) => [...d.matchAll(/([0-9.]+)(ns|us|µs|ms|s|m|h)/gu)].reduce((sum, [, n, u]) => sum + Number(n) * unit[u!]!, 0);
  for (const worst of ['999999h999999h9h', '999999.99999999h', '99999h99999h999h']) {
    assert.ok(worst.length <= DURATION_MAX_LENGTH && duration.test(worst), worst);
    assert.ok(nanoseconds(worst) < 2 ** 63 - 1, `${worst} overflows int64 nanoseconds`);
  }
  assert.ok(!duration.test('9999999h'), 'seven-digit components are refused');
});

test('the DNS label pattern matches Kubernetes namespace rules', () => {
  const label = new RegExp(DNS_LABEL_PATTERN);
  for (const n of ['istio-system', 'linkerd', 'a', 'ns1']) assert.ok(label.test(n), n);
  for (const n of ['Istio', 'istio_system', '-a', 'a-', 'a.b', '']) assert.ok(!label.test(n), n);
});

test('the structural checker catches what the API server would reject', () => {
  const described = (schema: JsonSchema) => ({ description: 'Root.', type: 'object', properties: { spec: { description: 'Spec.', ...schema } } });
  const cases: [string, JsonSchema, RegExp][] = [
    ['$id', described({ type: 'object', $id: 'x' }), /keyword \$id is not allowed/],
    ['TypeBox union of literals', toJsonSchema(Type.Object({ a: Type.Union([Type.Literal('x'), Type.Literal('y')], { description: 'A.' }) }, { description: 'Root.' })), /const is not allowed|keyword const/],
    ['TypeBox record', toJsonSchema(Type.Object({ a: Type.Record(Type.String(), Type.String(), { description: 'A.' }) }, { description: 'Root.' })), /patternProperties/],
    ['closed object', described({ type: 'object', properties: { a: { description: 'A.', type: 'string' } }, additionalProperties: false }), /additionalProperties must be a schema/],
    ['properties and additionalProperties', described({ type: 'object', properties: { a: { description: 'A.', type: 'string' } }, additionalProperties: { type: 'string' } }), /mutually exclusive/],
    ['untyped field', described({ properties: {} }), /every node needs a type/],
    ['undescribed field', described({ type: 'object', properties: { a: { type: 'string' } } }), /needs a description/],
    ['type inside anyOf', described({ type: 'string', anyOf: [{ type: 'string', maxLength: 3 }] }), /type is not allowed inside anyOf/],
    ['list-map key optional', described({ type: 'array', maxItems: 2, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'], items: { type: 'object', properties: { name: { description: 'N.', type: 'string' } } } }), /must be required or defaulted/],
    ['CEL without message', described({ type: 'string', maxLength: 3, 'x-kubernetes-validations': [{ rule: 'self != "a"' }] }), /neither message nor messageExpression/],
    ['CEL over unbounded string', described({ type: 'object', 'x-kubernetes-validations': [{ rule: 'true', message: 'm' }], properties: { a: { description: 'A.', type: 'string' } } }), /needs maxLength/],
    ['CEL over unbounded list', described({ type: 'array', items: { type: 'integer' }, 'x-kubernetes-validations': [{ rule: 'true', message: 'm' }] }), /needs maxItems/],
    ['fieldPath to nowhere', described({ type: 'object', properties: {}, 'x-kubernetes-validations': [{ rule: 'true', message: 'm', fieldPath: '.missing' }] }), /fieldPath \.missing does not name a field/],
    ['default of the wrong type', described({ type: 'integer', default: 'three' }), /is not of type integer/],
    ['default outside the enum', described({ type: 'string', enum: ['a'], default: 'b' }), /not one of the enum values/],
    ['described metadata', { description: 'Root.', type: 'object', properties: { metadata: { type: 'object', description: 'M.' } } }, /metadata: only type and properties/],
    ['uniqueItems', described({ type: 'array', uniqueItems: true, items: { type: 'string' } }), /uniqueItems is not allowed/],
  ];
  for (const [name, schema, expected] of cases) {
    const violations = findStructuralViolations(schema);
    assert.ok(violations.some((v) => expected.test(v)), `${name}: expected ${expected} in ${JSON.stringify(violations)}`);
  }
});
