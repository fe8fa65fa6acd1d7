/**
 * Fidelity: what we render against Linkerd's own install manifests (testdata/reference/, see its
 * README). Every object is compared field by field; each remaining difference must be a named,
 * justified exception below, and each exception must still occur — so the table is the complete,
 * current list of how meshwright's Linkerd differs from Linkerd's install.
 *
 * The renders use the goldens' own inputs where Linkerd's tests fixed them (Linkerd's public test
 * certificates, the fake webhook CA bundles, namespace and trust domain), so what remains is what
 * we do differently, not what the inputs made different.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import type { KubeObject } from '../../runtime/kube.ts';
import type { CertificateAuthorityMaterial } from '../distribution.ts';
import { imageRepository } from './catalog.ts';
import { diffObjects, WHOLE_OBJECT, type Difference } from './manifest-diff.ts';
import { renderLinkerd } from './render.ts';
import { readObjects, renderInput } from './test-support.ts';
import type { MeshInstallationSpec } from '../../api/spec.ts';

/** The upstream goldens we compare with. */
type Golden = 'default' | 'ha' | 'helm' | 'helm-ha' | 'crds';

/** A named, justified difference from Linkerd's install. */
interface Exception {
  goldens: readonly Golden[];
  /** Which objects (`Kind/name` or `Kind/namespace/name`). */
  object: RegExp;
  /** Which field or aspect (a path as manifest-diff.ts writes it, or `<object>` for a whole object). */
  aspect: RegExp;
  why: string;
  /** The releases whose goldens it applies to; absent: all of them. */
  versions?: readonly string[];
  /** Narrows the exception to differences of a certain shape. */
  when?: (expected: unknown, actual: unknown) => boolean;
}

const CONTROL_PLANE: readonly Golden[] = ['default', 'ha', 'helm', 'helm-ha'];
const HELM: readonly Golden[] = ['helm', 'helm-ha'];
const ALL: readonly Golden[] = [...CONTROL_PLANE, 'crds'];
const any = /./;
const values = (keys: string) => new RegExp(`^data\\.values\\.(${keys})$`);
const sameRepository = (expected: unknown, actual: unknown) =>
  typeof expected === 'string' && typeof actual === 'string' && imageRepository(expected) === imageRepository(actual);

const EXCEPTIONS: readonly Exception[] = [
  // What we do not install.
  {
    goldens: CONTROL_PLANE, object: /proxy-injector/, aspect: /^<object>$/,
    why: 'Linkerd\'s proxy injector (Deployment, Service, MutatingWebhookConfiguration, RBAC, ServiceAccount, HA PodDisruptionBudget) is not installed: the operator injects proxies itself',
  },
  {
    goldens: CONTROL_PLANE, object: /^Secret\/[^/]+\/linkerd-config-overrides$/, aspect: /^<object>$/,
    why: 'linkerd-config-overrides is the CLI\'s record of non-default values for `linkerd upgrade`, and it embeds the issuer private key; meshwright keeps the install\'s source of truth in the MeshInstallation and keys only in the issuer Secret',
  },
  {
    goldens: HELM, object: /^Namespace\//, aspect: /^<object>$/,
    why: 'Helm does not create the release namespace; meshwright creates and labels the control-plane namespace',
  },
  {
    goldens: CONTROL_PLANE, object: /^Secret\/[^/]+\/linkerd-(sp|policy)-validator-k8s-tls$/, aspect: /^<object>$/,
    why: 'the goldens are rendered with externalSecret: true and omit the webhook TLS Secrets; meshwright renders them from the serving certificates the operator issues',
  },
  // Versions, provenance and fixtures of the goldens.
  {
    goldens: CONTROL_PLANE, object: any, aspect: /\.image$/, when: sameRepository,
    why: 'image tags in the goldens are test placeholders (install-control-plane-version, linkerd-version, ...); we use the release tag from the catalog',
  },
  {
    goldens: CONTROL_PLANE, object: any,
    aspect: /(\["app\.kubernetes\.io\/version"\]|\["linkerd\.io\/proxy-version"\]|^data\.values\.(linkerdVersion|proxy\.image\.version|debugContainer\.image\.version|proxyInit\.image\.version))$/,
    why: 'version labels and config values carry the release tag (2.19\'s proxy-init: its v2.4.3) instead of the goldens\' placeholders',
  },
  {
    goldens: ALL, object: any, aspect: /\["linkerd\.io\/created-by"\]$/,
    why: 'objects are marked as created by meshwright, not by the Linkerd CLI or Helm',
  },
  {
    goldens: CONTROL_PLANE, object: /^ConfigMap\/[^/]+\/linkerd-config$/, aspect: values('cliVersion'),
    why: 'no Linkerd CLI installed this control plane; cliVersion is empty, as in a Helm install',
  },
  {
    goldens: CONTROL_PLANE, object: /(^CronJob\/[^/]+\/linkerd-heartbeat$|^ConfigMap\/[^/]+\/linkerd-config$)/, aspect: /^(spec\.schedule|data\.values\.heartbeatSchedule)$/,
    why: 'the goldens fix the heartbeat schedule ("1 2 3 4 5"); Linkerd\'s CLI uses the install time, which a pure render lacks, so the daily time is derived from the installation name',
  },
  {
    goldens: CONTROL_PLANE, object: /^Deployment\/[^/]+\/linkerd-destination$/, aspect: /\["checksum\/config"\]$/,
    why: 'Linkerd hashes its template output to roll the destination pod when webhook certificates change; we hash the serving certificates themselves',
  },
  {
    goldens: HELM, object: /(^Deployment\/|^ConfigMap\/[^/]+\/linkerd-config$)/,
    aspect: /(\.initContainers\[linkerd-init\]\.args\[12\]|^data\.values\.proxyInit\.ignore(In|Out)boundPorts)$/,
    why: 'the Helm goldens set proxyInit.ignoreInboundPorts=222 and ignoreOutboundPorts=111 as test inputs; we keep Linkerd\'s defaults (4567,4568)',
  },
  {
    goldens: HELM, object: /^ConfigMap\/[^/]+\/linkerd-config$/, aspect: values('tap'),
    why: 'the Helm test passes a leftover `tap` section (the tap webhook moved to linkerd-viz); it configures nothing',
  },
  // The issuer: kubernetes.io/tls instead of linkerd.io/tls.
  {
    goldens: CONTROL_PLANE, object: /^Secret\/[^/]+\/linkerd-identity-issuer$/, aspect: /^(type|data\["(crt\.pem|key\.pem|tls\.crt|tls\.key|ca\.crt)"\])$/,
    why: 'the issuer Secret uses the kubernetes.io/tls layout (tls.crt issuer chain, tls.key, ca.crt trust anchors) that the operator maintains, instead of linkerd.io/tls (crt.pem, key.pem)',
  },
  {
    goldens: CONTROL_PLANE, object: /(^Deployment\/[^/]+\/linkerd-identity$|^ConfigMap\/[^/]+\/linkerd-config$)/,
    aspect: /(containers\[identity\]\.args\[7\]|^data\.values\.identity\.issuer\.(scheme|tls))$/,
    why: 'identity runs with -identity-scheme=kubernetes.io/tls and reads the issuer from its Secret, so the issuer certificate is not copied into linkerd-config',
  },
  {
    goldens: ['helm', 'helm-ha'], object: /^ConfigMap\/[^/]+\/linkerd-config$/, aspect: values('proxyInjector\\.caBundle'),
    why: 'the injector is not installed, so its caBundle in the config is empty (the Helm test passes a fake one)',
  },
  {
    goldens: ['default', 'ha'], object: /^ConfigMap\/[^/]+\/linkerd-config$/, aspect: values('proxyInjector\\.caBundle'),
    why: 'the injector is not installed, so its caBundle in the config is empty (the CLI test passes a fake one)',
  },
  {
    goldens: ['ha', 'helm-ha'], object: /^ConfigMap\/[^/]+\/linkerd-config$/, aspect: values('proxyInjectorResources'),
    why: 'the HA sizing of the proxy injector does not apply: it is not installed',
  },
  {
    goldens: ['ha', 'helm-ha'], object: /^ConfigMap\/[^/]+\/linkerd-config$/, aspect: values('imagePullSecrets'),
    why: 'the HA values file sets imagePullSecrets to null; we always write the empty list (same meaning)',
    when: (expected, actual) => expected === undefined && Array.isArray(actual) && actual.length === 0,
  },
  // CRDs.
  {
    goldens: ['crds'], object: /^CustomResourceDefinition\//, aspect: /^spec\.versions\[[^\]]+\]\.schema\./,
    why: 'structural schemas of our own: the object envelope with spec and status kept as given (x-kubernetes-preserve-unknown-fields); Linkerd\'s generated field-by-field schemas (and their defaults) are not carried over, the policy validator webhook and controllers judge content',
  },
  {
    goldens: ['crds'], object: /^CustomResourceDefinition\//, aspect: /\["helm\.sh\/chart"\]$/,
    why: 'Helm chart bookkeeping label; meshwright is not a Helm release',
  },
  {
    goldens: ['crds'], object: /^CustomResourceDefinition\//, aspect: /\["meshwright\.dev\/keep-on-delete"\]$/,
    why: 'CRDs are kept when the installation is deleted: deleting a CRD deletes every policy and route of its kind',
  },
  {
    goldens: ['crds'], object: /^CustomResourceDefinition\/httproutes\.policy\.linkerd\.io$/, aspect: /^status$/,
    why: 'the generated HTTPRoute CRD carries an empty status stub; status is the API server\'s to write',
  },
  {
    goldens: CONTROL_PLANE, object: /^Namespace\//, aspect: /\["meshwright\.dev\/keep-on-delete"\]$/,
    why: 'the control-plane namespace is kept when the installation is deleted: users and extensions keep their own objects there',
  },
];

/** Linkerd's test CA as it appears in a golden, as our CA material (its public test fixtures). */
function goldenCa(objects: readonly KubeObject[]): CertificateAuthorityMaterial {
  const find = (kind: string, name: string) => {
    const object = objects.find((o) => o.kind === kind && o.metadata.name === name);
    assert.ok(object, `golden has ${kind} ${name}`);
    return object as Record<string, unknown> & KubeObject;
  };
  const config = parse((find('ConfigMap', 'linkerd-config').data as { values: string }).values) as {
    identityTrustAnchorsPEM: string; identity: { issuer: { tls: { crtPEM: string } } };
  };
  const issuer = find('Secret', 'linkerd-identity-issuer').data as Record<string, string>;
  const caBundle = (name: string) => {
    const webhook = (find('ValidatingWebhookConfiguration', name).webhooks as Array<{ clientConfig: { caBundle: string } }>)[0]!;
    return Buffer.from(webhook.clientConfig.caBundle, 'base64').toString('utf8');
  };
  const serving = (name: string, configuration: string) => ({
    certificatePem: `${name} test certificate`, privateKeyPem: `${name} test key`, caBundlePem: caBundle(configuration),
  });
  return {
    trustAnchorsPem: config.identityTrustAnchorsPEM,
    issuerChainPem: config.identity.issuer.tls.crtPEM,
    issuerKeyPem: Buffer.from(issuer['key.pem']!, 'base64').toString('utf8'),
    serving: {
      'linkerd-sp-validator': serving('linkerd-sp-validator', 'linkerd-sp-validator-webhook-config'),
      'linkerd-policy-validator': serving('linkerd-policy-validator', 'linkerd-policy-validator-webhook-config'),
    },
  };
}

/** linkerd-config's values compared as data, not as YAML text. */
function parsedConfig(objects: readonly KubeObject[]): KubeObject[] {
  return objects.map((o) => {
    if (o.kind !== 'ConfigMap' || o.metadata.name !== 'linkerd-config') return o;
    const data = o.data as Record<string, string>;
    return { ...o, data: { ...data, values: parse(data.values!) as unknown } } as KubeObject;
  });
}

interface Comparison { golden: Golden; compared: number; differences: Difference[] }

function compareWith(golden: Golden, file: string, spec: Partial<MeshInstallationSpec>): Comparison {
  const expected = readObjects(`reference/${file}`);
  const crdsOnly = golden === 'crds';
  const ca = crdsOnly ? undefined : goldenCa(expected);
  const rendered = renderLinkerd(renderInput(spec, ca)).filter((o) => (o.kind === 'CustomResourceDefinition') === crdsOnly);
  const { differences, compared } = diffObjects(parsedConfig(expected), parsedConfig(rendered));
  return { golden, compared, differences };
}

/** One upstream manifest against our render of the same inputs, at one Linkerd release. */
interface ComparisonCase { golden: Golden; file: string; spec: Partial<MeshInstallationSpec> }

const BASE_COMPARISONS: readonly ComparisonCase[] = [
  { golden: 'default', file: 'install_default.golden', spec: {} },
  { golden: 'ha', file: 'install_ha_output.golden', spec: { profile: 'ha' } },
  { golden: 'helm', file: 'install_helm_control_plane_output.golden', spec: { namespace: 'linkerd-dev', meshConfig: { trustDomain: 'test.trust.domain' } } },
  { golden: 'helm-ha', file: 'install_helm_control_plane_output_ha.golden', spec: { namespace: 'linkerd-dev', profile: 'ha', meshConfig: { trustDomain: 'test.trust.domain' } } },
  { golden: 'crds', file: 'install_crds.golden', spec: {} },
];

/**
 * Every upstream manifest at each manifest shape of the catalog: 2.20's goldens (byte-identical at
 * edge-26.8.3) rendered at edge-26.8.3, and version-2.19's rendered at 2.19. The same exceptions
 * apply to both releases, so what differs between them is what the renderer does differently.
 */
const COMPARISONS: ReadonlyArray<ComparisonCase & { version: string }> = [
  ...BASE_COMPARISONS.map((c) => ({ ...c, version: 'edge-26.8.3' })),
  ...BASE_COMPARISONS.map((c) => ({ ...c, file: `version-2.19/${c.file}`, spec: { ...c.spec, version: '2.19' }, version: '2.19' })),
];

const describeValue = (value: unknown) => {
  if (value === undefined) return '(absent)';
  const text = JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
};

test('conformance: every difference from Linkerd\'s install manifests is a named exception, and every exception still occurs', () => {
  const used = new Set<Exception>();
  const unexplained: string[] = [];
  let compared = 0;
  for (const { golden, file, spec, version } of COMPARISONS) {
    const result = compareWith(golden, file, spec);
    compared += result.compared;
    for (const d of result.differences) {
      const matching = EXCEPTIONS.filter((e) => e.goldens.includes(golden) && (e.versions?.includes(version) ?? true) && e.object.test(d.object) && e.aspect.test(d.path) && (e.when?.(d.expected, d.actual) ?? true));
      matching.forEach((e) => used.add(e));
      if (matching.length === 0) unexplained.push(`[${golden} ${version}] ${d.object} ${d.path}: expected ${describeValue(d.expected)}, got ${describeValue(d.actual)}`);
    }
  }
  const stale = EXCEPTIONS.filter((e) => !used.has(e)).map((e) => `${e.object} ${e.aspect} (${e.why})`);
  console.log(`linkerd conformance: ${compared} objects compared with ${COMPARISONS.length} upstream manifests of ${new Set(COMPARISONS.map((c) => c.version)).size} releases; ${EXCEPTIONS.length} named exceptions`);
  assert.deepEqual(unexplained, [], 'differences from Linkerd that no exception explains');
  assert.deepEqual(stale, [], 'exceptions that no longer occur (remove them)');
});

test('conformance: the comparison sees differences (a broken render is not silently equal)', () => {
  const result = compareWith('default', 'install_default.golden', { meshConfig: { mtls: { mode: 'STRICT' } } });
  assert.ok(result.compared >= 30, `compared ${result.compared} objects`);
  assert.ok(result.differences.some((d) => d.path.endsWith('args[9]') && d.actual === '--default-policy=all-authenticated'), 'a changed policy-controller flag is reported');
  assert.ok(!result.differences.some((d) => d.path === WHOLE_OBJECT && d.object.startsWith('Deployment/linkerd/linkerd-identity')), 'identity is paired with its golden');
});

test('conformance: 2.19\'s manifests differ from a 2.20-shaped render where the releases differ (so the 2.19 render is what passes)', () => {
  const result = compareWith('default', 'version-2.19/install_default.golden', { version: 'edge-26.8.3' });
  const paths = result.differences.map((d) => `${d.object} ${d.path}`);
  const has = (pattern: RegExp, what: string) => assert.ok(paths.some((p) => pattern.test(p)), `${what}:\n${paths.join('\n')}`);
  has(/linkerd-config data\.values\.proxy\.nativeSidecar$/, 'the nativeSidecar default');
  has(/linkerd-config data\.values\.proxyInit\.image$/, 'proxy-init\'s own image in the config');
  has(/linkerd-config data\.values\.podMonitor\.proxy\.honorTimestamps$/, 'no honorTimestamps in 2.19');
  has(/^Deployment\/linkerd\/linkerd-destination spec\.template\.spec\.(initContainers|containers)\[linkerd-proxy\]/, 'the destination proxy is a classic sidecar');
  has(/^Deployment\/linkerd\/linkerd-identity spec\.template\.spec\.initContainers\[linkerd-init\]\.(image|command)$/, 'proxy-init from its own image');
});
