/**
 * The one render path the reconciler and `meshwright render` share: the distribution's pure render,
 * then `spec.overlays` applied last, so what a reviewer sees offline is what the operator applies.
 */
import type { KubeObject } from '../runtime/kube.ts';
import { UnsupportedSpecError, type MeshDistribution, type RenderInput } from './distribution.ts';
import { applyJsonPatch, JsonPatchError, type JsonPatchOperation } from './json-patch.ts';

/** One entry of spec.overlays. */
export interface Overlay {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  patches: JsonPatchOperation[];
}

function describe(overlay: Overlay): string {
  return `${overlay.apiVersion} ${overlay.kind} ${overlay.namespace ? `${overlay.namespace}/` : ''}${overlay.name}`;
}

/**
 * Applies overlays in list order to the rendered objects. An overlay whose target is not rendered,
 * or whose patch fails, makes the whole spec unservable (UnsupportedSpecError): applying the rest
 * would install something the user did not ask for.
 */
export function applyOverlays(objects: readonly KubeObject[], overlays: readonly Overlay[] | undefined): KubeObject[] {
  const result = [...objects];
  (overlays ?? []).forEach((overlay, position) => {
    const index = result.findIndex((o) => o.apiVersion === overlay.apiVersion && o.kind === overlay.kind && o.metadata.name === overlay.name && (o.metadata.namespace ?? '') === (overlay.namespace ?? ''));
    if (index < 0) {
      const sameKind = result.filter((o) => o.kind === overlay.kind).map((o) => `${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`);
      throw new UnsupportedSpecError('OverlayTargetNotFound', `spec.overlays[${position}] targets ${describe(overlay)}, which this installation does not render; rendered ${overlay.kind} objects: ${sameKind.join(', ') || 'none'}`);
    }
    try {
      const patched = applyJsonPatch(result[index]!, overlay.patches);
      const original = result[index]!;
      if (patched.apiVersion !== original.apiVersion || patched.kind !== original.kind || patched.metadata?.name !== original.metadata.name || patched.metadata?.namespace !== original.metadata.namespace) {
        throw new JsonPatchError(0, 'the patches change the object\'s identity (apiVersion, kind, name or namespace)');
      }
      result[index] = patched;
    } catch (error) {
      if (!(error instanceof JsonPatchError)) throw error;
      throw new UnsupportedSpecError('OverlayInvalid', `spec.overlays[${position}] (${describe(overlay)}) patches[${error.index}]: ${error.message}`);
    }
  });
  return result;
}

/**
 * The objects the operator applies for `input`: the distribution's render, without the Secret the
 * user's own Secret stands in for (`usedInPlace` of {@link RenderInput.ca}), with overlays applied last.
 */
export function renderInstallation(distribution: MeshDistribution, input: RenderInput): KubeObject[] {
  const inPlace = input.ca?.usedInPlace;
  const rendered = distribution.render(input).filter((o) => !(inPlace && o.kind === 'Secret' && o.metadata.name === inPlace.name && o.metadata.namespace === inPlace.namespace));
  return applyOverlays(rendered, input.installation.spec.overlays as Overlay[] | undefined);
}
