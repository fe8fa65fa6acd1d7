/**
 * The releases the real-mesh upgrade scenarios (upgrade.ts) move through, with the images each
 * runs written out as release facts: Linkerd's stable aliases run the images of the edge they were
 * cut from (2.19: edge-25.10.7, 2.20: edge-26.6.3), 2.19 still ships proxy-init as its own image
 * and injects classic sidecars, 2.20 and later run proxy-init from the proxy image and inject
 * native sidecars; Istio's images carry the version.
 */
import assert from 'node:assert/strict';
import { proxyContainer, type Pod } from './injection.ts';
import type { ReleaseFacts, UpgradeScenario } from './upgrade.ts';

const L5D = 'cr.l5d.io/linkerd';

/** A Linkerd release whose images are tagged `tag`; `proxyInit`: its own proxy-init image (2.19). */
function linkerd(version: string, tag: string, proxyInit?: string): ReleaseFacts {
  const proxy = `${L5D}/proxy:${tag}`;
  return {
    version,
    controlPlaneImages: [`${L5D}/controller:${tag}`, proxy, ...(proxyInit ? [proxyInit] : [])].sort(),
    proxyImage: proxy,
    checkPod: (pod: Pod) => {
      assert.equal(pod.metadata.annotations?.['linkerd.io/proxy-version'], tag, `${pod.metadata.name}: linkerd.io/proxy-version`);
      const init = pod.spec.initContainers?.find((c) => c.name === 'linkerd-init');
      assert.ok(init, `${pod.metadata.name} has linkerd-init`);
      if (proxyInit) {
        assert.equal(init.image, proxyInit, `${pod.metadata.name}: proxy-init from its own image`);
        assert.equal(proxyContainer(pod, 'linkerd-proxy')?.native, false, `${pod.metadata.name}: a classic sidecar`);
      } else {
        assert.deepEqual([init.image, init.command], [proxy, ['/usr/lib/linkerd/linkerd2-proxy-init']], `${pod.metadata.name}: proxy-init from the proxy image`);
        assert.equal(proxyContainer(pod, 'linkerd-proxy')?.native, true, `${pod.metadata.name}: a native sidecar`);
      }
    },
  };
}

/**
 * Linkerd: stable → next stable, stable → edge, edge → later edge (a downgrade to the stable refused
 * on the way); then a later edge on which one workload crash-loops, rolled back.
 */
export const LINKERD_UPGRADES: UpgradeScenario = {
  mesh: 'linkerd',
  proxy: 'linkerd-proxy',
  releases: [
    linkerd('2.19', 'edge-25.10.7', `${L5D}/proxy-init:v2.4.3`),
    linkerd('2.20', 'edge-26.6.3'),
    linkerd('edge-26.8.1', 'edge-26.8.1'),
    linkerd('edge-26.8.2', 'edge-26.8.2'),
  ],
  rollback: { to: linkerd('edge-26.8.3', 'edge-26.8.3'), workload: 'api' },
  // On edge-26.8.1, going back to the stable it came from is a downgrade.
  refusals: [{ at: 2, to: '2.20', message: /moving from edge-26\.8\.1 to stable 2\.20 \(built from edge-26\.6\.3\) is a downgrade.*allowDowngrade/ }],
};

/** An Istio release: istiod's pilot image, the proxyv2 proxy. */
function istio(version: string): ReleaseFacts {
  return { version, controlPlaneImages: [`docker.io/istio/pilot:${version}`], proxyImage: `docker.io/istio/proxyv2:${version}` };
}

/** Istio: the latest patch of 1.29, 1.30 and 1.31, one minor per hop (in place allows one); the two-minor jump refused first. */
export const ISTIO_UPGRADES: UpgradeScenario = {
  mesh: 'istio',
  proxy: 'istio-proxy',
  releases: [istio('1.29.4'), istio('1.30.4'), istio('1.31.1')],
  // From 1.29 in place, 1.31 is two minors away.
  refusals: [{ at: 0, to: '1.31.1', message: /in place Istio moves at most one minor at a time, but 1\.29 → 1\.31 is 2/ }],
};
