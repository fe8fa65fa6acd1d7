import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Type } from '@sinclair/typebox';
import { applySchemaDefaults, withSpecDefaults } from './defaults.ts';
import { withDefault } from './schema-helpers.ts';
import type { MeshInstallationSpec } from './spec.ts';

const minimal: MeshInstallationSpec = { mesh: 'istio', version: '1.31.1', namespace: 'istio-system' };

test('a minimal spec gains exactly the declared defaults, nested ones included', () => {
  assert.deepEqual(withSpecDefaults(minimal), {
    mesh: 'istio',
    version: '1.31.1',
    namespace: 'istio-system',
    profile: 'default',
    meshConfig: {
      mtls: { mode: 'PERMISSIVE' },
      trustDomain: 'cluster.local',
      outboundTrafficPolicy: 'ALLOW_ANY',
      accessLog: { enabled: false, encoding: 'TEXT' },
      tracing: { enabled: false },
    },
    certificateAuthority: {
      type: 'SelfSigned',
      rootTTL: '87600h',
      intermediateTTL: '8760h',
      renewBefore: '720h',
      rootRotation: { automatic: true, renewBefore: '720h' },
    },
    injection: { restartWorkloads: { enabled: true, maxUnavailable: '25%', batchInterval: '30s' } },
    upgrade: { strategy: 'InPlace', rollbackOnFailure: true, progressDeadline: '10m', allowDowngrade: false },
    paused: false,
  });
});

test('written values win over defaults, and the input is not modified', () => {
  const spec: MeshInstallationSpec = {
    ...minimal,
    profile: 'ha',
    meshConfig: { mtls: { mode: 'STRICT' }, tracing: { enabled: true, collector: { protocol: 'OpenTelemetry', address: 'otel:4317' } } },
    upgrade: { strategy: 'Canary', canary: {} },
  };
  const before = structuredClone(spec);
  const defaulted = withSpecDefaults(spec);
  assert.deepEqual(spec, before);
  assert.equal(defaulted.profile, 'ha');
  assert.deepEqual(defaulted.meshConfig.mtls, { mode: 'STRICT' });
  assert.equal(defaulted.meshConfig.tracing.enabled, true);
  assert.equal(defaulted.meshConfig.trustDomain, 'cluster.local');
  assert.deepEqual(defaulted.upgrade, { strategy: 'Canary', canary: { autoPromote: true }, rollbackOnFailure: true, progressDeadline: '10m', allowDowngrade: false });
});

test('list items are defaulted one by one; optional objects without a default stay absent', () => {
  const defaulted = withSpecDefaults({
    ...minimal,
    gateways: [
      { name: 'ingress', kind: 'Ingress', service: { ports: [{ name: 'http', port: 80 }, { name: 'dns', port: 53, protocol: 'UDP' }] } },
      { name: 'egress', kind: 'Egress', autoscaling: { enabled: true } },
    ],
  });
  const [ingress, egress] = defaulted.gateways!;
  assert.deepEqual(ingress!.service!.ports!.map((p) => p.protocol), ['TCP', 'UDP']);
  assert.equal(ingress!.autoscaling, undefined);
  assert.deepEqual(egress!.autoscaling, { enabled: true, minReplicas: 1, maxReplicas: 5, targetCPUUtilizationPercent: 80 });
  assert.equal(defaulted.controlPlane, undefined);
  assert.equal(defaulted.meshConfig.proxy, undefined);
});

test('like the API server, an explicit null in a non-nullable field counts as absent', () => {
  const schema = Type.Object({ mode: withDefault(Type.String({ description: 'Mode.' }), 'auto') });
  assert.deepEqual(applySchemaDefaults(schema, { mode: null }), { mode: 'auto' });
  assert.deepEqual(applySchemaDefaults(schema, { mode: 'manual' }), { mode: 'manual' });
});

test('map values are defaulted through additionalProperties', () => {
  const schema = {
    type: 'object',
    additionalProperties: { type: 'object', properties: { weight: { type: 'integer', default: 1 } } },
  };
  assert.deepEqual(applySchemaDefaults(schema, { a: {}, b: { weight: 3 } }), { a: { weight: 1 }, b: { weight: 3 } });
});
