/**
 * The domain conditions a pass reports, and every reason the reconciler itself writes, as
 * constants. Reasons that come with errors live beside the code that raises them (distributions,
 * the PKI, writes); all of them are listed in `operator/api/README.md`, which a test checks.
 */
import { ConditionType, type ConditionUpdate } from '../../api/conditions.ts';
import type { ComponentHealth } from '../../distributions/distribution.ts';
import type { CertificateAuthorityOutcome } from '../certificate-authority.ts';

/** Reasons of ControlPlaneReady. */
export const ControlPlaneReason = {
  /** Every rendered workload is rolled out and available. */
  ComponentsAvailable: 'ComponentsAvailable',
  /** Some workload is not (yet) rolled out or available; the message names each. */
  ComponentsNotAvailable: 'ComponentsNotAvailable',
} as const;

/** Reasons of CertificateAuthorityReady the reconciler writes (failures carry the PKI's own reasons). */
export const CertificateAuthorityReason = {
  /** The mesh has no CA for the operator to manage. */
  NotManaged: 'NotManaged',
  /** A self-signed CA exists and is valid. */
  Issued: 'Issued',
  /** The user's External CA material is valid. */
  ExternalMaterialValid: 'ExternalMaterialValid',
  /** The External issuer expires within renewBefore; its owner must renew it. */
  IssuerExpiringSoon: 'IssuerExpiringSoon',
  /** Paused before any CA existed: none is created while paused. */
  Paused: 'Paused',
  /** No CA yet (the pass stopped before the PKI step). */
  NotIssued: 'NotIssued',
} as const;

/** Reasons of DataPlaneReady. */
export const DataPlaneReason = {
  /** The mesh has no injector (the test distribution): the operator manages no workload's proxy and claims nothing about any. The reasons of a mesh that injects are in data-plane.ts. */
  InjectionNotManaged: 'InjectionNotManaged',
} as const;

/** Reasons of the installation as a whole that the reconciler raises itself. */
export const InstallationReason = {
  /** No distribution for spec.mesh is built into this operator. */
  MeshNotSupported: 'MeshNotSupported',
  /** The name cannot be carried by the labels derived from it. */
  InstallationNameTooLong: 'InstallationNameTooLong',
  /** An unexpected error; the message says what failed. Retried with backoff. */
  ReconcileFailed: 'ReconcileFailed',
  /** Another installation owns objects this one would render; the message names them and the owner. */
  ConflictingInstallation: 'ConflictingInstallation',
  /** Objects this installation would render exist and were not created by meshwright. */
  ObjectNotOwned: 'ObjectNotOwned',
} as const;

/** ControlPlaneReady from component health. */
export function controlPlaneCondition(components: readonly ComponentHealth[], generation: number): ConditionUpdate {
  const notReady = components.filter((c) => !c.ready);
  if (notReady.length === 0) {
    return { type: ConditionType.ControlPlaneReady, status: 'True', reason: ControlPlaneReason.ComponentsAvailable, message: `${components.length} components available`, observedGeneration: generation };
  }
  const listed = notReady.map((c) => `${c.kind} ${c.namespace ? `${c.namespace}/` : ''}${c.name} (${c.available ?? 0}/${c.replicas ?? 1})`).join(', ');
  return { type: ConditionType.ControlPlaneReady, status: 'False', reason: ControlPlaneReason.ComponentsNotAvailable, message: `not available yet: ${listed}`, observedGeneration: generation };
}

/** CertificateAuthorityReady after a successful PKI step (or when there is none). */
export function certificateAuthorityCondition(authority: CertificateAuthorityOutcome | undefined, options: { type: string; managed: boolean; paused: boolean; generation: number }): ConditionUpdate {
  const base = { type: ConditionType.CertificateAuthorityReady, observedGeneration: options.generation };
  if (!options.managed) return { ...base, status: 'True', reason: CertificateAuthorityReason.NotManaged, message: 'this mesh distribution has no CA for the operator to manage' };
  if (!authority) {
    return options.paused
      ? { ...base, status: 'Unknown', reason: CertificateAuthorityReason.Paused, message: 'no CA exists yet and none is created while spec.paused is true' }
      : { ...base, status: 'Unknown', reason: CertificateAuthorityReason.NotIssued, message: 'no CA yet' };
  }
  const { rootNotAfter, intermediateNotAfter } = authority.summary;
  if (authority.expiringSoon) return { ...base, status: 'True', reason: CertificateAuthorityReason.IssuerExpiringSoon, message: `the External issuer expires at ${intermediateNotAfter}, within renewBefore; renew the Secret` };
  return { ...base, status: 'True', reason: options.type === 'External' ? CertificateAuthorityReason.ExternalMaterialValid : CertificateAuthorityReason.Issued, message: `root valid until ${rootNotAfter}, issuer until ${intermediateNotAfter}` };
}

/**
 * DataPlaneReady for a mesh without an injector says only what is known: the operator manages no
 * workload's proxy, so it neither claims namespaces are enrolled nor that any pod is current.
 */
export function dataPlaneCondition(generation: number): ConditionUpdate {
  return {
    type: ConditionType.DataPlaneReady, status: 'True', reason: DataPlaneReason.InjectionNotManaged,
    message: 'this mesh has no injector in this operator, so it manages no workload of the data plane', observedGeneration: generation,
  };
}
