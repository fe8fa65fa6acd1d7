/**
 * Istio on the local cluster, one scenario after another (they share cluster-scoped objects):
 * examples/istio-minimal.yaml end to end (see mesh-install.ts), then every other Istio example and
 * every spec behind an Istio golden render reconciled to Ready with a pass that writes nothing
 * (see no-op.ts); then the safety of installations from each other (see safety.ts); then sidecar
 * injection through the operator's webhook on the real mesh (see injection.ts); then InPlace
 * upgrades 1.29 → 1.30 → 1.31 with injected workloads, the two-minor jump refused first (see
 * upgrade.ts); then a Canary upgrade 1.30 → 1.31 in steps, promoted by a person (see canary.ts);
 * then root rotations on the mesh's layout — triggered, automatic with the operator
 * killed in every phase, an External root change (see ../rotation/meshes.ts).
 */
import { ISTIO_GOLDEN_SPECS } from '../../operator/distributions/istio/testdata/golden-specs.ts';
import { describeIstioCanaryUpgrade } from './canary.ts';
import { describeInjection } from './injection.ts';
import { describeMeshExample } from './mesh-install.ts';
import { describeNoOpPasses, exampleSpec, type NoOpCase } from './no-op.ts';
import { describeSafety } from './safety.ts';
import { ISTIO_UPGRADES } from './upgrade-releases.ts';
import { describeInPlaceUpgrades } from './upgrade.ts';
import { describeRootRotationOnMesh } from '../rotation/meshes.ts';

describeMeshExample({ file: 'istio-minimal.yaml', drift: { deployment: 'istiod', service: 'istiod' } });

const cases: NoOpCase[] = [
  { title: 'examples/istio-ha-gateways.yaml', spec: exampleSpec('istio-ha-gateways.yaml') },
  { title: 'examples/istio-canary-upgrade.yaml', spec: exampleSpec('istio-canary-upgrade.yaml') },
  ...Object.entries(ISTIO_GOLDEN_SPECS).map(([name, spec]) => ({ title: `golden ${name}`, spec: { mesh: 'istio' as const, version: '1.31.1', namespace: 'istio-system', ...spec } })),
];

describeNoOpPasses('Istio: every example and golden spec is Ready and then at rest', cases);

describeSafety('istio');

describeInjection('istio');

describeInPlaceUpgrades(ISTIO_UPGRADES);

describeIstioCanaryUpgrade();

describeRootRotationOnMesh('istio');
