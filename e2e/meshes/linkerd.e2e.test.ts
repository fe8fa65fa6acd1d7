/** examples/linkerd-minimal.yaml end to end on the local cluster (see mesh-install.ts). */
import { describeMeshExample } from './mesh-install.ts';

describeMeshExample({ file: 'linkerd-minimal.yaml', drift: { deployment: 'linkerd-destination', service: 'linkerd-dst' } });
