/**
 * Istio's injection webhook configurations (placeholder until written).
 */
import type { DefaultedMeshInstallation } from '../../../api/meshinstallation.ts';
import type { KubeObject } from '../../../runtime/kube.ts';
import type { ResolvedVersion } from '../../distribution.ts';
import type { WebhookEndpoint } from '../../injection.ts';
import { computeScope } from '../scope.ts';

/** The label that enrols a namespace: `istio-injection=enabled` for the default revision, else `istio.io/rev=<revision>`. */
export function istioEnrolmentLabel(installation: DefaultedMeshInstallation, resolved: ResolvedVersion): { key: string; value: string } {
  const scope = computeScope({ installation, resolved });
  return scope.revision ? { key: 'istio.io/rev', value: scope.revision } : { key: 'istio-injection', value: 'enabled' };
}

/** The MutatingWebhookConfigurations for `installation`. */
export function istioWebhookConfigurations(_installation: DefaultedMeshInstallation, _resolved: ResolvedVersion, _endpoint: WebhookEndpoint): KubeObject[] {
  return [];
}
