/** The mesh distributions this build of the operator ships. */
import type { MeshDistribution } from './distribution.ts';
import { istioDistribution } from './istio/index.ts';
import { linkerdDistribution } from './linkerd/index.ts';

/** Every mesh the operator and `meshwright render` serve. */
export const builtInDistributions: readonly MeshDistribution[] = [istioDistribution, linkerdDistribution];
