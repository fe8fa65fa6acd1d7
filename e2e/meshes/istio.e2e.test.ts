/** examples/istio-minimal.yaml end to end on the local cluster (see mesh-install.ts). */
import { describeMeshExample } from './mesh-install.ts';

describeMeshExample({ file: 'istio-minimal.yaml', drift: { deployment: 'istiod', service: 'istiod' } });
