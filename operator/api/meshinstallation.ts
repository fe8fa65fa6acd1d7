/**
 * The MeshInstallation resource: identity (group, version, names) and the full object schema.
 * `crd.ts` turns this into the CustomResourceDefinition; the operator imports the types.
 */
import { Type, type Static } from '@sinclair/typebox';
import { ObjectMeta, type Defaulted } from './schema-helpers.ts';
import { MeshInstallationSpecSchema } from './spec.ts';
import { MeshInstallationStatusSchema } from './status.ts';

/** API group of meshwright's resources. */
export const GROUP = 'meshwright.dev';
/** The served and stored version. */
export const VERSION = 'v1alpha1';
/** `apiVersion` of a MeshInstallation. */
export const API_VERSION = `${GROUP}/${VERSION}`;
/** Kind of the resource. */
export const KIND = 'MeshInstallation';
/** Plural resource name, as in URLs and RBAC rules. */
export const PLURAL = 'meshinstallations';
/** Singular resource name. */
export const SINGULAR = 'meshinstallation';
/** Short names for kubectl. */
export const SHORT_NAMES = ['mi'] as const;
/** kubectl categories: `kubectl get meshwright` lists every meshwright resource. */
export const CATEGORIES = ['meshwright', 'mesh'] as const;
/** Name of the CustomResourceDefinition object. */
export const CRD_NAME = `${PLURAL}.${GROUP}`;

/** The TypeBox schema of a whole MeshInstallation object. */
export const MeshInstallationSchema = Type.Object({
  apiVersion: Type.String({ description: `APIVersion of this representation of the object: ${API_VERSION}.` }),
  kind: Type.String({ description: `Kind of the object: ${KIND}.` }),
  metadata: ObjectMeta(),
  spec: MeshInstallationSpecSchema,
  status: Type.Optional(MeshInstallationStatusSchema),
}, {
  description: 'MeshInstallation installs and runs an Istio- or Linkerd-style service mesh: control plane, certificate authority, proxy injection, gateways and version upgrades. Cluster-scoped; the operator never writes spec.',
});

/** A MeshInstallation as written by a user. */
export type MeshInstallation = Static<typeof MeshInstallationSchema>;

/** A MeshInstallation as read from the API server: spec defaults applied. */
export type DefaultedMeshInstallation = Defaulted<typeof MeshInstallationSchema>;
