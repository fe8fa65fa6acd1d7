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

/** Whether a rendered object carries a private key (in a Secret's data or stringData). */
export function carriesPrivateKey(object: KubeObject): boolean {
  const { data, stringData } = object as { data?: Record<string, unknown>; stringData?: Record<string, unknown> };
  const texts = [...Object.values(data ?? {}).map((v) => (typeof v === 'string' ? Buffer.from(v, 'base64').toString('latin1') : '')), ...Object.values(stringData ?? {}).map(String)];
  return texts.some((text) => /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text));
}

/**
 * Applies overlays in list order to the rendered objects. An overlay whose target is not rendered,
 * or whose patch fails, makes the whole spec unservable (UnsupportedSpecError): applying the rest
 * would install something the user did not ask for. An overlay on an object that holds private
 * keys — one `holdsKeys` names (the mesh's declaration, which holds offline too) or one that
 * carries a key — is refused outright: a patch could read a key into a message (a failed `test`
 * quotes the value) or change it. The refusal names the object and quotes nothing from it.
 */
export function applyOverlays(objects: readonly KubeObject[], overlays: readonly Overlay[] | undefined, holdsKeys: (target: Overlay) => boolean = () => false): KubeObject[] {
  const result = [...objects];
  (overlays ?? []).forEach((overlay, position) => {
    const index = result.findIndex((o) => o.apiVersion === overlay.apiVersion && o.kind === overlay.kind && o.metadata.name === overlay.name && (o.metadata.namespace ?? '') === (overlay.namespace ?? ''));
    if (holdsKeys(overlay) || (index >= 0 && carriesPrivateKey(result[index]!))) {
      throw new UnsupportedSpecError('OverlayTargetHoldsKeys', `spec.overlays[${position}] targets ${describe(overlay)}, which holds private key material: overlays on such objects are refused, so that no patch can read a key or change it; remove this overlay (the CA is configured in spec.certificateAuthority)`);
    }
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
  const namespace = input.installation.spec.namespace;
  const keyHolders = distribution.certificateAuthority?.(input.installation).published.keyHolders ?? [];
  const holdsKeys = (target: Overlay) => target.namespace === namespace && keyHolders.some((h) => h.kind === target.kind && h.name === target.name);
  return applyOverlays(rendered, input.installation.spec.overlays as Overlay[] | undefined, holdsKeys);
}
