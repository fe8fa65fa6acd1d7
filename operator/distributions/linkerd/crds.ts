/**
 * Linkerd's CustomResourceDefinitions (policy, service profiles, external workloads): names,
 * versions, subresources and printer columns as Linkerd defines them, with structural schemas of
 * our own. Gateway API CRDs are not bundled, as Linkerd does not bundle them by default.
 *
 * Every CRD is annotated keep-on-delete: deleting a CRD deletes every custom resource of its kind,
 * so removing the mesh must never take the users' policies and routes with it.
 */
import type { KubeObject } from '../../runtime/kube.ts';
import { createdBy } from './objects.ts';
import { controlPlaneLabels, KEEP_ON_DELETE, type LinkerdScope } from './scope.ts';

/** A printer column of `kubectl get`. */
interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  format?: string;
}

/** One version of a CRD, as far as meshwright renders it. */
interface CrdVersion {
  name: string;
  storage?: true;
  deprecationWarning?: string;
  statusSubresource?: true;
  columns?: PrinterColumn[];
}

/** One Linkerd CRD. */
interface CrdFacts {
  group: string;
  kind: string;
  plural: string;
  singular: string;
  listKind?: true;
  shortNames?: string[];
  categories?: string[];
  /** Objects without a spec are refused (all Linkerd CRDs but ServiceProfile). */
  specRequired: boolean;
  /** The schema declares status (CRDs written with a status subresource in mind). */
  hasStatus: boolean;
  versions: CrdVersion[];
}

const col = (name: string, jsonPath: string, description?: string, type = 'string', format?: string): PrinterColumn =>
  ({ name, type, jsonPath, ...(description ? { description } : {}), ...(format ? { format } : {}) });

const age = col('Age', '.metadata.creationTimestamp', undefined, 'date');
const routeColumns = [col('Hostnames', '.spec.hostnames'), age];
const serverColumns = [col('Port', '.spec.port', 'The port the server is listening on'), col('Protocol', '.spec.proxyProtocol', 'The protocol of the server')];
const deprecated = (version: string, kind: string, replacement: string) => `policy.linkerd.io/${version} ${kind} is deprecated; use policy.linkerd.io/${replacement} ${kind}`;

/** Linkerd's CRDs in Linkerd's install order. */
export const LINKERD_CRDS: readonly CrdFacts[] = [
  { group: 'policy.linkerd.io', kind: 'AuthorizationPolicy', plural: 'authorizationpolicies', singular: 'authorizationpolicy', shortNames: ['authzpolicy'], specRequired: true, hasStatus: false, versions: [{ name: 'v1alpha1', storage: true }] },
  { group: 'policy.linkerd.io', kind: 'EgressNetwork', plural: 'egressnetworks', singular: 'egressnetwork', listKind: true, categories: ['policy'], specRequired: true, hasStatus: true, versions: [{ name: 'v1alpha1', storage: true, statusSubresource: true }] },
  {
    group: 'policy.linkerd.io', kind: 'HTTPLocalRateLimitPolicy', plural: 'httplocalratelimitpolicies', singular: 'httplocalratelimitpolicy', listKind: true, specRequired: true, hasStatus: true,
    versions: [{
      name: 'v1alpha1', storage: true, statusSubresource: true,
      columns: [
        col('Target_kind', '.spec.targetRef.kind', 'The resource kind to which the rate-limit applies'),
        col('Target_name', '.spec.targetRef.name', 'The resource name to which the rate-limit applies'),
        col('Total_RPS', '.spec.total.requestsPerSecond', 'The overall rate-limit', 'integer', 'int32'),
        col('Identity_RPS', '.spec.identity.requestsPerSecond', 'The rate-limit per identity', 'integer', 'int32'),
      ],
    }],
  },
  {
    group: 'policy.linkerd.io', kind: 'HTTPRoute', plural: 'httproutes', singular: 'httproute', listKind: true, specRequired: true, hasStatus: true,
    versions: ['v1alpha1', 'v1beta1', 'v1beta2', 'v1beta3'].map((name) => ({ name, statusSubresource: true as const, columns: routeColumns, ...(name === 'v1beta3' ? { storage: true as const } : {}) })),
  },
  { group: 'policy.linkerd.io', kind: 'MeshTLSAuthentication', plural: 'meshtlsauthentications', singular: 'meshtlsauthentication', shortNames: ['meshtlsauthn'], specRequired: true, hasStatus: false, versions: [{ name: 'v1alpha1', storage: true }] },
  { group: 'policy.linkerd.io', kind: 'NetworkAuthentication', plural: 'networkauthentications', singular: 'networkauthentication', shortNames: ['netauthn', 'networkauthn'], specRequired: true, hasStatus: false, versions: [{ name: 'v1alpha1', storage: true }] },
  {
    group: 'policy.linkerd.io', kind: 'ServerAuthorization', plural: 'serverauthorizations', singular: 'serverauthorization', shortNames: ['saz', 'serverauthz', 'srvauthz'], specRequired: true, hasStatus: false,
    versions: [
      { name: 'v1alpha1', deprecationWarning: deprecated('v1alpha1', 'ServerAuthorization', 'v1beta1') },
      { name: 'v1beta1', storage: true, columns: [col('Server', '.spec.server.name', 'The server that this grants access to')] },
    ],
  },
  {
    group: 'policy.linkerd.io', kind: 'Server', plural: 'servers', singular: 'server', shortNames: ['srv'], specRequired: true, hasStatus: false,
    versions: [
      { name: 'v1alpha1', deprecationWarning: deprecated('v1alpha1', 'Server', 'v1beta1') },
      { name: 'v1beta1', deprecationWarning: deprecated('v1beta1', 'Server', 'v1beta3'), columns: serverColumns },
      { name: 'v1beta2', columns: serverColumns },
      { name: 'v1beta3', storage: true, columns: [...serverColumns, col('Access Policy', '.spec.accessPolicy', 'The default access policy applied when the traffic doesn\'t match any of the policy rules')] },
    ],
  },
  { group: 'linkerd.io', kind: 'ServiceProfile', plural: 'serviceprofiles', singular: 'serviceprofile', shortNames: ['sp'], specRequired: false, hasStatus: false, versions: [{ name: 'v1alpha1' }, { name: 'v1alpha2', storage: true }] },
  {
    group: 'workload.linkerd.io', kind: 'ExternalWorkload', plural: 'externalworkloads', singular: 'externalworkload', listKind: true, categories: ['external'], specRequired: true, hasStatus: true,
    versions: [
      { name: 'v1alpha1', columns: [col('Identity', '.spec.meshTls.identity'), age] },
      { name: 'v1beta1', storage: true, statusSubresource: true, columns: [col('Identity', '.spec.meshTLS.identity'), age] },
    ],
  },
];

/**
 * Our structural schema: the object envelope, with spec and status kept as given. Linkerd's own
 * schemas validate field by field; here the policy validator webhook and the controllers judge
 * the content, which keeps the CRDs small and independent of Linkerd's generated schemas.
 */
function schemaFor(crd: CrdFacts): Record<string, unknown> {
  const preserved = (description: string) => ({ type: 'object', description, 'x-kubernetes-preserve-unknown-fields': true });
  return {
    openAPIV3Schema: {
      type: 'object',
      description: `${crd.kind} of Linkerd (${crd.group}).`,
      ...(crd.specRequired ? { required: ['spec'] } : {}),
      properties: {
        apiVersion: { type: 'string' },
        kind: { type: 'string' },
        metadata: { type: 'object' },
        spec: preserved(`Desired state of the ${crd.kind}; validated by Linkerd's admission webhook and controllers.`),
        ...(crd.hasStatus ? { status: preserved(`Observed state of the ${crd.kind}, written by Linkerd's controllers.`) } : {}),
      },
    },
  };
}

/** The CustomResourceDefinition objects of Linkerd. */
export function computeCrds(scope: LinkerdScope): KubeObject[] {
  return LINKERD_CRDS.map((crd) => ({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${crd.plural}.${crd.group}`,
      labels: controlPlaneLabels(scope),
      annotations: { ...createdBy(), ...KEEP_ON_DELETE },
    },
    spec: {
      group: crd.group,
      scope: 'Namespaced',
      names: {
        kind: crd.kind,
        plural: crd.plural,
        singular: crd.singular,
        ...(crd.listKind ? { listKind: `${crd.kind}List` } : {}),
        ...(crd.shortNames ? { shortNames: crd.shortNames } : {}),
        ...(crd.categories ? { categories: crd.categories } : {}),
      },
      versions: crd.versions.map((v) => ({
        name: v.name,
        served: true,
        storage: v.storage ?? false,
        ...(v.deprecationWarning ? { deprecated: true, deprecationWarning: v.deprecationWarning } : {}),
        ...(v.statusSubresource ? { subresources: { status: {} } } : {}),
        ...(v.columns ? { additionalPrinterColumns: v.columns } : {}),
        schema: schemaFor(crd),
      })),
    },
  }));
}
