/**
 * The API server's structural defaulting, reproduced: what a MeshInstallation looks like after the
 * defaults declared in the schema were applied. The end-to-end test compares the server's answer
 * with it ("read back exactly as written, apart from declared defaults"), and operator unit tests
 * use it to build specs as the operator will receive them.
 */
import type { TSchema } from '@sinclair/typebox';
import { toJsonSchema, type JsonSchema } from './crd.ts';
import { MeshInstallationSpecSchema, type DefaultedMeshInstallationSpec, type MeshInstallationSpec } from './spec.ts';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function defaultInPlace(value: unknown, schema: JsonSchema): void {
  if (Array.isArray(value)) {
    if (isRecord(schema.items)) for (const item of value) defaultInPlace(item, schema.items);
    return;
  }
  if (!isRecord(value)) return;
  const properties = isRecord(schema.properties) ? (schema.properties as Record<string, JsonSchema>) : undefined;
  if (properties) {
    for (const [field, fieldSchema] of Object.entries(properties)) {
      if (fieldSchema.default === undefined) continue;
      // Like the API server: an explicit null in a non-nullable field counts as absent.
      if (!(field in value) || (value[field] === null && fieldSchema.nullable !== true)) value[field] = structuredClone(fieldSchema.default);
    }
  }
  // Then recurse into every present field, including those just defaulted, so defaults nest.
  for (const [field, fieldValue] of Object.entries(value)) {
    const fieldSchema = properties?.[field] ?? (isRecord(schema.additionalProperties) ? schema.additionalProperties : undefined);
    if (fieldSchema) defaultInPlace(fieldValue, fieldSchema);
  }
}

/**
 * `value` with the defaults of `schema` applied the way the API server applies them: a missing
 * field with a default gets a copy of it, then defaulting continues inside it (so `default: {}`
 * on an object pulls in its children's defaults). `value` itself is not modified.
 */
export function applySchemaDefaults<T>(schema: TSchema | JsonSchema, value: T): T {
  const copy = structuredClone(value);
  let json = converted.get(schema);
  if (!json) converted.set(schema, json = toJsonSchema(schema));
  defaultInPlace(copy, json);
  return copy;
}

/**
 * Each schema as JSON Schema, converted once: converting the whole spec schema was most of the
 * defaulting every pass does (defaults are copied out of it, never handed out).
 */
const converted = new WeakMap<object, JsonSchema>();

/** A spec as the operator will read it from the API server, with every declared default. */
export function withSpecDefaults(spec: MeshInstallationSpec): DefaultedMeshInstallationSpec {
  return applySchemaDefaults(MeshInstallationSpecSchema, spec) as DefaultedMeshInstallationSpec;
}
