/**
 * Linkerd's sidecar injector (`MeshDistribution.injector` of the Linkerd distribution): selection
 * (selection.ts), the pod mutation (inject.ts, with the `config.linkerd.io/*` overrides of
 * annotations.ts) and the webhook configuration with its enrolment label (webhook.ts).
 *
 * Where it differs from Linkerd's own injector on purpose:
 * - Routing: Linkerd sends every pod to its webhook and reads the `linkerd.io/inject` annotation,
 *   failing open. Here namespaces that are not enrolled never reach the webhook, and enrolled ones
 *   fail closed; since an annotation cannot be selected on, enrolment is the namespace *label*
 *   `linkerd.io/inject=enabled` (the injector reads it like the annotation, which wins if both are
 *   set), and a pod elsewhere opts in with the pod label `linkerd.io/inject=enabled` (a second,
 *   fail-open webhook selects it).
 * - An override value Linkerd cannot parse, which it logs and ignores, is refused (InjectionError).
 * - `linkerd.io/created-by` names meshwright; the control-plane namespace is never injected.
 * Everything else is Linkerd's behaviour, judged by inject-conformance.test.ts on upstream's vectors.
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
