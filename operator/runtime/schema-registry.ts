/**
 * The list and map semantics of the kinds the operator owns, loaded from the API server they are
 * applied to: the OpenAPI v3 document of each group/version (`/openapi/v3/apis/<group>/<version>`,
 * `/openapi/v3/api/v1`; readable by every authenticated user through `system:discovery`, so no
 * RBAC of ours), and for custom resources their CustomResourceDefinition as the operator's cache
 * sees it. Compiled by list-semantics.ts into schemas that `needsApply` compares with.
 *
 * Each group/version is fetched once, when first needed (the operator asks for its owned types
 * before its first pass; a type asked for later and not known is fetched then), and fetched again
 * after a while when it could not be loaded (a CRD not installed yet, an error). A CRD applied or
 * changed is learnt from its watch event at once, ahead of the API server's own OpenAPI, which
 * publishes it a little later.
 */
import type { Logger } from 'pino';
import { systemClock, type Clock } from './clock.ts';
import { HttpMethod, isNotFound, type KubeClient, type KubeObject, type TypeRef } from './kube.ts';
import { gvkOf, kindsOfCrd, kindsOfOpenApi, type SchemaNode } from './list-semantics.ts';

/** A group/version that could not be loaded is tried again after this long, when asked for. */
const RETRY_AFTER_MS = 10_000;

/** Settings of {@link SchemaRegistry}. */
export interface SchemaRegistryOptions {
  /** Reads a path of the API server as JSON (see {@link openApiReader}). */
  read: (path: string) => Promise<unknown>;
  log?: Logger;
  clock?: Clock;
}

/** The API server path of a group/version's OpenAPI v3 document. */
export function openApiPath(apiVersion: string): string {
  return apiVersion.includes('/') ? `/openapi/v3/apis/${apiVersion}` : `/openapi/v3/api/${apiVersion}`;
}

/** `read` for {@link SchemaRegistryOptions} through our client (keep-alive pool, user agent). */
export function openApiReader(client: KubeClient): (path: string) => Promise<unknown> {
  return (path) => client.request(HttpMethod.GET, path);
}

/** One group/version's document: its kinds once loaded, the load in flight, when a load last ended. */
interface DocumentState {
  kinds?: Map<string, SchemaNode>;
  loading?: Promise<void>;
  settledAt: number;
}

/** Schemas of the kinds of one API server, by group/version/kind. */
export class SchemaRegistry {
  private readonly documents = new Map<string, DocumentState>();
  /** Kinds from the CRDs seen, by CRD name: a CRD's update replaces its kinds, its deletion drops them. */
  private readonly crds = new Map<string, Map<string, SchemaNode>>();
  private readonly clock: Clock;

  constructor(private readonly options: SchemaRegistryOptions) {
    this.clock = options.clock ?? systemClock;
  }

  /** Loads the documents of these types' group/versions not loaded yet; never rejects: what fails stays unknown. */
  async load(types: readonly TypeRef[]): Promise<void> {
    const apiVersions = new Set(types.map((type) => type.apiVersion));
    await Promise.all([...apiVersions].map((apiVersion) => {
      const state = this.documents.get(apiVersion);
      return state?.loading ?? (state?.kinds ? undefined : this.loadDocument(apiVersion));
    }));
  }

  /**
   * The schema of `type` if known: from its CRD when one was seen, else from its group/version's
   * document. When unknown (undefined), that document is loaded (again) in the background unless
   * a load is in flight or ended less than {@link RETRY_AFTER_MS} ago, so a later pass knows it.
   */
  schemaOf(type: TypeRef): SchemaNode | undefined {
    const key = gvkOf(type);
    for (const kinds of this.crds.values()) {
      const schema = kinds.get(key);
      if (schema) return schema;
    }
    const state = this.documents.get(type.apiVersion);
    const schema = state?.kinds?.get(key);
    if (schema) return schema;
    // Not loaded, not served when it was, or loaded before the CRD serving this kind existed.
    if (!state || (!state.loading && this.clock.now() - state.settledAt >= RETRY_AFTER_MS)) void this.loadDocument(type.apiVersion);
    return undefined;
  }

  /** Learns the kinds a CustomResourceDefinition defines (added or changed). */
  learnCrd(crd: KubeObject): void {
    this.crds.set(crd.metadata.name, kindsOfCrd(crd));
  }

  /** Forgets the kinds of a deleted CustomResourceDefinition. */
  forgetCrd(crd: KubeObject): void {
    this.crds.delete(crd.metadata.name);
  }

  /** (Re)loads one document; what was loaded before stays if this load fails. */
  private loadDocument(apiVersion: string): Promise<void> {
    const state = this.documents.get(apiVersion) ?? { settledAt: -Infinity };
    this.documents.set(apiVersion, state);
    // Callbacks of a promise run later, never before `loading` is set: a load that ends at once
    // still clears it.
    state.loading = this.fetchKinds(apiVersion).then((kinds) => {
      state.kinds = kinds;
      this.options.log?.debug({ apiVersion, kinds: kinds.size }, 'loaded the OpenAPI schema of a group/version');
    }, (error: unknown) => {
      // Not served: a CRD not installed yet, expected; anything else is worth a word.
      if (!isNotFound(error)) this.options.log?.warn({ apiVersion, err: error instanceof Error ? error.message : String(error) }, 'could not load the OpenAPI schema of a group/version; its lists compare as atomic until it loads');
    }).finally(() => {
      state.settledAt = this.clock.now();
      state.loading = undefined;
    });
    return state.loading;
  }

  private async fetchKinds(apiVersion: string): Promise<Map<string, SchemaNode>> {
    return kindsOfOpenApi(await this.options.read(openApiPath(apiVersion)));
  }
}
