/**
 * The OpenAPI v3 documents captured from the local cluster (see capture.ts), compiled, for tests
 * that need the real list semantics of RBAC, Deployment, webhook and Service objects.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TypeRef } from '../../kube.ts';
import { gvkOf, kindsOfOpenApi, type SchemaNode } from '../../list-semantics.ts';

/** The raw captured document of a group/version (`apps/v1`, `v1`). */
export function capturedDocument(apiVersion: string): unknown {
  return JSON.parse(readFileSync(join(import.meta.dirname, `${apiVersion.replaceAll('/', '_')}.json`), 'utf8'));
}

/** The captured group/versions. */
export const capturedApiVersions: readonly string[] = readdirSync(import.meta.dirname)
  .filter((file) => file.endsWith('.json'))
  .map((file) => file.replace(/\.json$/, '').replace('_', '/'));

const kinds = new Map(capturedApiVersions.flatMap((apiVersion) => [...kindsOfOpenApi(capturedDocument(apiVersion))]));

/** The compiled schema of a captured kind; throws for one not captured. */
export function capturedSchema(type: TypeRef): SchemaNode {
  const schema = kinds.get(gvkOf(type));
  if (!schema) throw new Error(`no captured schema for ${type.apiVersion} ${type.kind}: add it to capture.ts`);
  return schema;
}
