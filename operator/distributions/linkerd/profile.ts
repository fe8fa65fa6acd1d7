/**
 * Installation profiles for Linkerd: what `default`, `minimal`, `demo` and `ha` mean before
 * `spec.controlPlane` and `spec.meshConfig` override them.
 *
 * - `default` and `minimal`: Linkerd's default install (one replica each). Linkerd's control plane
 *   is already minimal, so `minimal` equals `default`.
 * - `demo`: `default` with the controllers at log level `debug` and the proxies at
 *   `warn,linkerd=debug,hickory=error`, so a first look shows what the mesh does. The policy
 *   controller stays at `info`: its debug output is dominated by Kubernetes client chatter.
 * - `ha`: Linkerd's HA values (`install_ha_output.golden`): three replicas, a PodDisruptionBudget
 *   (maxUnavailable 1) per Deployment, anti-affinity across nodes (required) and zones
 *   (preferred), resource requests, rolling updates of one pod at a time, and validating webhooks
 *   that fail closed.
 */
import type { DefaultedMeshInstallationSpec } from '../../api/spec.ts';
import type { Resources } from '../resources.ts';

/** What a profile decides. */
export interface ProfilePreset {
  replicas: number;
  /** PodDisruptionBudgets, anti-affinity, fail-closed webhooks, one-at-a-time rollouts. */
  highAvailability: boolean;
  controllerLogLevel: 'info' | 'debug';
  /** Proxy log filter in Linkerd's syntax (`warn,linkerd=info,hickory=error`). */
  proxyLogLevel: string;
  /** Resources by container role; absent means none declared. */
  resources: {
    identity?: Resources;
    destination?: Resources;
    heartbeat?: Resources;
    proxy?: Resources;
  };
}

/** Linkerd's default proxy log filter: warnings, info for the proxy itself, DNS errors only. */
export const DEFAULT_PROXY_LOG_LEVEL = 'warn,linkerd=info,hickory=error';

const base: ProfilePreset = { replicas: 1, highAvailability: false, controllerLogLevel: 'info', proxyLogLevel: DEFAULT_PROXY_LOG_LEVEL, resources: {} };

/** Requests and limits of Linkerd's HA values. */
const haController = (memoryRequest: string): Resources => ({ requests: { cpu: '100m', memory: memoryRequest }, limits: { memory: '250Mi' } });

const presets: Record<DefaultedMeshInstallationSpec['profile'], ProfilePreset> = {
  default: base,
  minimal: base,
  demo: { ...base, controllerLogLevel: 'debug', proxyLogLevel: 'warn,linkerd=debug,hickory=error' },
  ha: {
    ...base,
    replicas: 3,
    highAvailability: true,
    resources: { identity: haController('10Mi'), destination: haController('50Mi'), heartbeat: haController('50Mi'), proxy: haController('20Mi') },
  },
};

/** The preset of `profile`. */
export function profilePreset(profile: DefaultedMeshInstallationSpec['profile']): ProfilePreset {
  return presets[profile];
}
