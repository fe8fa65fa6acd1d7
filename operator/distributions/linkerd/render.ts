/**
 * The Linkerd render: every desired object, in Linkerd's install order (CRDs first), as a pure
 * function of the render input.
 */
import type { KubeObject } from '../../runtime/kube.ts';
import type { RenderInput } from '../distribution.ts';
import { computeLinkerdConfig, computeTrustRoots } from './config.ts';
import { computeCrds } from './crds.ts';
import { computeDestination } from './destination.ts';
import { computeHeartbeat } from './heartbeat.ts';
import { computeIdentity, computeIssuerSecret } from './identity.ts';
import { computeNamespace } from './namespace.ts';
import { computeConfigReaderRole, computeDestinationRbac, computeHeartbeatRbac, computeIdentityRbac } from './rbac.ts';
import { linkerdScope } from './scope.ts';
import { computeValidatingWebhooks, computeWebhookSecrets } from './webhooks.ts';

/** Renders Linkerd for `input`. Deterministic; `input` is not modified. */
export function renderLinkerd(input: RenderInput): KubeObject[] {
  const scope = linkerdScope(input);
  // Built from fresh literals only, so no part of the input is shared with (or mutated through) the output.
  return structuredClone([
    ...computeCrds(scope),
    computeNamespace(scope),
    ...computeIdentityRbac(scope),
    ...computeDestinationRbac(scope),
    ...computeHeartbeatRbac(scope),
    ...computeValidatingWebhooks(scope),
    ...computeWebhookSecrets(scope),
    computeLinkerdConfig(scope),
    computeConfigReaderRole(scope),
    ...computeIssuerSecret(scope),
    computeTrustRoots(scope),
    ...computeIdentity(scope),
    ...computeDestination(scope),
    computeHeartbeat(scope),
  ]);
}
