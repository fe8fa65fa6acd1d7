/**
 * Offline schema checks of a MeshInstallation spec (for `meshwright render`): the same TypeBox
 * schema the CRD is generated from. CEL rules are the API server's job and are not evaluated here.
 */
import { Kind, TypeRegistry, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { MeshInstallationSpecSchema } from './spec.ts';

interface UnsafeSchema {
  type?: string;
  enum?: unknown[];
  additionalProperties?: TSchema;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Our Unsafe schemas (enums, string maps, int-or-string, free-form JSON) checked the way the API server checks them. */
function checkUnsafe(schema: UnsafeSchema, value: unknown): boolean {
  if (schema['x-kubernetes-int-or-string']) return Number.isInteger(value) || typeof value === 'string';
  if (schema.enum) return schema.enum.includes(value);
  if (schema.type === 'string') return typeof value === 'string';
  if (schema.type === 'object') {
    if (!isRecord(value)) return false;
    const values = schema.additionalProperties;
    return !values || !(Kind in values) || Object.values(value).every((v) => Value.Check(values, v));
  }
  return true; // any JSON value
}

if (!TypeRegistry.Has('Unsafe')) TypeRegistry.Set('Unsafe', (schema, value) => checkUnsafe(schema as UnsafeSchema, value));

function describe(schema: UnsafeSchema & { description?: string }): string {
  if (schema.enum) return `must be one of ${schema.enum.join(', ')}`;
  if (schema['x-kubernetes-int-or-string']) return 'must be an integer or a string';
  return schema.type ? `must be of type ${schema.type}` : 'is invalid';
}

/** Schema violations of a spec (defaults already applied), as `spec.path: problem` lines. */
export function specSchemaErrors(spec: unknown, limit = 10): string[] {
  return [...Value.Errors(MeshInstallationSpecSchema, spec)].slice(0, limit).map((error) => {
    const path = `spec${error.path.replaceAll('/', '.')}`;
    const message = error.schema[Kind] === 'Unsafe' ? describe(error.schema as UnsafeSchema) : error.message.replace(/^Expected/, 'must be');
    return `${path}: ${message}`;
  });
}
