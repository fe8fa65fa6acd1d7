/**
 * Linkerd's sidecar injector (`MeshDistribution.injector` of the Linkerd distribution): selection
 * (selection.ts), the pod mutation (inject.ts, with the `config.linkerd.io/*` overrides of
 * annotations.ts) and the webhook configuration with its enrolment label (webhook.ts, which also
 * says how routing differs from Linkerd's own on purpose).
 */
import type { SidecarInjector } from '../../injection.ts';
import { injectLinkerdProxy } from './inject.ts';
import { linkerdEnrolmentLabel, linkerdWebhookConfigurations } from './webhook.ts';

/** The Linkerd injector. */
export const linkerdInjector: SidecarInjector = {
  inject: injectLinkerdProxy,
  webhookConfigurations: linkerdWebhookConfigurations,
  enrolmentLabel: linkerdEnrolmentLabel,
};
