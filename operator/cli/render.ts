/**
 * `meshwright render`: the objects the operator would apply for a MeshInstallation, without a
 * cluster, so a change can be reviewed in Git before it is merged.
 *
 * The output is exactly the reconciler's desired set (same render path, overlays, ownership marks)
 * except the objects that carry CA keys: those are created in the cluster and keys never leave it.
 * Schema checks run here too; CEL rules (cross-field checks) are left to the API server and noted.
 */
import { parseAllDocuments, stringify } from 'yaml';
import { withSpecDefaults } from '../api/defaults.ts';
import { API_VERSION, KIND, type DefaultedMeshInstallation } from '../api/meshinstallation.ts';
import { specSchemaErrors } from '../api/validate.ts';
import { renderOwned } from '../controllers/ownership.ts';
import { UnsupportedSpecError, type MeshDistribution } from '../distributions/distribution.ts';
import type { KubeObject } from '../runtime/kube.ts';

/** A problem with the input, worded for the person who wrote it. */
export class RenderInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RenderInputError';
  }
}

interface InputDocument {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: { name?: unknown };
  spec?: unknown;
}

/** Parses YAML holding one or more MeshInstallations; other documents are an error (a typo'd file is likelier than intent). */
export function parseInstallations(text: string, source: string): DefaultedMeshInstallation[] {
  const documents = parseAllDocuments(text);
  const installations: DefaultedMeshInstallation[] = [];
  documents.forEach((document, index) => {
    const where = `${source} document ${index + 1}`;
    if (document.errors.length > 0) throw new RenderInputError(`${where}: not valid YAML: ${document.errors[0]!.message}`);
    const value = document.toJS() as InputDocument | null;
    if (value === null) return;
    if (value.apiVersion !== API_VERSION || value.kind !== KIND) {
      throw new RenderInputError(`${where}: expected apiVersion ${API_VERSION} and kind ${KIND}, got ${String(value.apiVersion)} ${String(value.kind)}`);
    }
    if (typeof value.metadata?.name !== 'string' || value.metadata.name === '') throw new RenderInputError(`${where}: metadata.name is required`);
    const spec = withSpecDefaults(value.spec as never);
    const errors = specSchemaErrors(spec);
    if (errors.length > 0) throw new RenderInputError(`${where} (${value.metadata.name}): invalid spec:\n${errors.map((e) => `  ${e}`).join('\n')}`);
    installations.push({ ...(value as object), spec } as DefaultedMeshInstallation);
  });
  if (installations.length === 0) throw new RenderInputError(`${source}: no MeshInstallation found`);
  return installations;
}

/** The objects the operator would apply for one installation (CA key material excluded). */
export function renderOffline(installation: DefaultedMeshInstallation, distributions: readonly MeshDistribution[]): KubeObject[] {
  const distribution = distributions.find((d) => d.mesh === installation.spec.mesh);
  if (!distribution) throw new RenderInputError(`${installation.metadata.name}: no distribution for mesh "${installation.spec.mesh}"`);
  try {
    const resolved = distribution.resolve(installation);
    return renderOwned(distribution, { installation, resolved });
  } catch (error) {
    if (error instanceof UnsupportedSpecError) throw new RenderInputError(`${installation.metadata.name}: ${error.message} (${error.reason})`);
    throw error;
  }
}

/** Multi-document YAML of `objects`, with a header saying what is not in it. */
export function toYaml(installation: DefaultedMeshInstallation, objects: readonly KubeObject[]): string {
  const header = [
    `# meshwright render: ${objects.length} objects for MeshInstallation ${installation.metadata.name} (${installation.spec.mesh} ${installation.spec.version}, profile ${installation.spec.profile})`,
    '# Not shown: Secrets carrying CA keys, which the operator creates in the cluster. Cross-field (CEL) rules are checked by the API server.',
  ].join('\n');
  return `${header}\n${objects.map((object) => `---\n${stringify(object, { lineWidth: 0 })}`).join('')}`;
}
