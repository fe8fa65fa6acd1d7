/**
 * The mesh's configuration API: the 14 CustomResourceDefinitions Istio installs by default
 * (networking, security, telemetry, extensions). Names, versions, storage flags and printer
 * columns are Istio's facts; the schemas are ours: structural, with `spec` and `status` kept
 * as free-form objects, because istiod's validating webhook is what checks their contents.
 *
 * CRDs are shared by every revision and survive uninstall (`keep-on-delete`): deleting a CRD
 * deletes every user object of its kind.
 */
import type { KubeObject } from '../../runtime/kube.ts';
import { KEEP_ON_DELETE, meta, partOfIstio } from './scope.ts';

/** A printer column: [name, type, jsonPath, description]. */
type Column = readonly [string, 'string' | 'date', string, string];

/** One Istio kind. */
interface IstioKind {
  group: 'networking' | 'security' | 'telemetry' | 'extensions';
  kind: string;
  plural: string;
  shortNames?: readonly string[];
  /** Served versions; the first is the storage version. */
  versions: readonly string[];
  columns?: readonly Column[];
  /** Objects of this kind must have a spec. */
  specRequired?: boolean;
}

const AGE: Column = ['Age', 'date', '.metadata.creationTimestamp', 'Time since the object was created.'];

/** Every kind, sorted by CRD name. */
const KINDS: readonly IstioKind[] = [
  { group: 'security', kind: 'AuthorizationPolicy', plural: 'authorizationpolicies', shortNames: ['ap'], versions: ['v1', 'v1beta1'], columns: [['Action', 'string', '.spec.action', 'What the policy does with matching requests.'], AGE] },
  { group: 'networking', kind: 'DestinationRule', plural: 'destinationrules', shortNames: ['dr'], versions: ['v1', 'v1alpha3', 'v1beta1'], columns: [['Host', 'string', '.spec.host', 'Service the rule applies to.'], AGE] },
  { group: 'networking', kind: 'EnvoyFilter', plural: 'envoyfilters', versions: ['v1alpha3'] },
  { group: 'networking', kind: 'Gateway', plural: 'gateways', shortNames: ['gw'], versions: ['v1', 'v1alpha3', 'v1beta1'] },
  { group: 'security', kind: 'PeerAuthentication', plural: 'peerauthentications', shortNames: ['pa'], versions: ['v1', 'v1beta1'], columns: [['Mode', 'string', '.spec.mtls.mode', 'Mutual TLS mode.'], AGE] },
  { group: 'networking', kind: 'ProxyConfig', plural: 'proxyconfigs', versions: ['v1beta1'] },
  { group: 'security', kind: 'RequestAuthentication', plural: 'requestauthentications', shortNames: ['ra'], versions: ['v1', 'v1beta1'] },
  {
    group: 'networking', kind: 'ServiceEntry', plural: 'serviceentries', shortNames: ['se'], versions: ['v1', 'v1alpha3', 'v1beta1'], specRequired: true,
    columns: [
      ['Hosts', 'string', '.spec.hosts', 'Hosts the entry adds to the registry.'],
      ['Location', 'string', '.spec.location', 'MESH_EXTERNAL or MESH_INTERNAL.'],
      ['Resolution', 'string', '.spec.resolution', 'How endpoints are found: NONE, STATIC or DNS.'],
      AGE,
    ],
  },
  { group: 'networking', kind: 'Sidecar', plural: 'sidecars', versions: ['v1', 'v1alpha3', 'v1beta1'] },
  // v1 is served but v1alpha1 is still the storage version of Telemetry.
  { group: 'telemetry', kind: 'Telemetry', plural: 'telemetries', shortNames: ['telemetry'], versions: ['v1alpha1', 'v1'], columns: [AGE] },
  { group: 'networking', kind: 'VirtualService', plural: 'virtualservices', shortNames: ['vs'], versions: ['v1', 'v1alpha3', 'v1beta1'], columns: [['Gateways', 'string', '.spec.gateways', 'Gateways and sidecars the routes apply to.'], ['Hosts', 'string', '.spec.hosts', 'Destination hosts.'], AGE] },
  { group: 'extensions', kind: 'WasmPlugin', plural: 'wasmplugins', versions: ['v1alpha1'], columns: [AGE], specRequired: true },
  { group: 'networking', kind: 'WorkloadEntry', plural: 'workloadentries', shortNames: ['we'], versions: ['v1', 'v1alpha3', 'v1beta1'], columns: [AGE, ['Address', 'string', '.spec.address', 'Address of the workload.']], specRequired: true },
  { group: 'networking', kind: 'WorkloadGroup', plural: 'workloadgroups', shortNames: ['wg'], versions: ['v1', 'v1alpha3', 'v1beta1'], columns: [AGE], specRequired: true },
];

/** Our structural schema: free-form `spec` and `status`. */
function schema(specRequired: boolean | undefined): Record<string, unknown> {
  const freeform = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  return {
    openAPIV3Schema: {
      type: 'object',
      properties: { spec: { ...freeform, description: 'The Istio configuration; validated by istiod.' }, status: { ...freeform, description: 'Written by istiod.' } },
      ...(specRequired ? { required: ['spec'] } : {}),
    },
  };
}

/** The CustomResourceDefinition of one Istio kind. */
function computeCrd(k: IstioKind): KubeObject {
  const group = `${k.group}.istio.io`;
  const storage = k.versions[0];
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: meta(`${k.plural}.${group}`, undefined, partOfIstio(), { [KEEP_ON_DELETE]: 'true' }),
    spec: {
      group,
      names: {
        categories: ['istio-io', `${k.group}-istio-io`],
        kind: k.kind,
        listKind: `${k.kind}List`,
        plural: k.plural,
        ...(k.shortNames ? { shortNames: [...k.shortNames] } : {}),
        singular: k.kind.toLowerCase(),
      },
      scope: 'Namespaced',
      // Sorted by name, as the API server lists them.
      versions: [...k.versions].sort().map((name) => ({
        ...(k.columns ? { additionalPrinterColumns: k.columns.map(([colName, type, jsonPath, description]) => ({ description, jsonPath, name: colName, type })) } : {}),
        name,
        schema: schema(k.specRequired),
        served: true,
        storage: name === storage,
        subresources: { status: {} },
      })),
    },
  };
}

/** All Istio CRDs, shared by every revision. */
export function computeCrds(): KubeObject[] {
  return KINDS.map(computeCrd);
}
