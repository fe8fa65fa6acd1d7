/**
 * JSON Patch (RFC 6902) over plain JSON values, for `spec.overlays`. Pure: the input is never
 * modified; a failing operation throws a {@link JsonPatchError} that says which one and why.
 */

/** One JSON Patch operation (the shape of spec.overlays[].patches[]). */
export interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  from?: string;
  value?: unknown;
}

/** Why a patch could not be applied; `index` is the failing operation's position. */
export class JsonPatchError extends Error {
  constructor(
    readonly index: number,
    message: string,
  ) {
    super(message);
    this.name = 'JsonPatchError';
  }
}

type Container = Record<string, unknown> | unknown[];

/** Splits a JSON Pointer (RFC 6901) into unescaped reference tokens. */
function tokens(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new Error(`"${pointer}" is not a JSON Pointer: it must start with "/"`);
  return pointer.slice(1).split('/').map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'));
}

function isContainer(value: unknown): value is Container {
  return typeof value === 'object' && value !== null;
}

/** Array index from a token; `-` (one past the end) only where `allowEnd`. */
function arrayIndex(array: unknown[], token: string, allowEnd: boolean): number {
  if (token === '-' && allowEnd) return array.length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw new Error(`"${token}" is not an array index`);
  const index = Number(token);
  if (index > array.length || (index === array.length && !allowEnd)) throw new Error(`index ${index} is out of bounds (length ${array.length})`);
  return index;
}

/** The container holding the location `pointer` names, and the last token. */
function parentOf(document: unknown, pointer: string): { parent: Container; key: string } {
  const path = tokens(pointer);
  if (path.length === 0) throw new Error('the whole document cannot be the target');
  let node = document;
  for (const token of path.slice(0, -1)) {
    if (Array.isArray(node)) node = node[arrayIndex(node, token, false)];
    else if (isContainer(node) && Object.hasOwn(node, token)) node = (node as Record<string, unknown>)[token];
    else throw new Error(`path ${pointer} does not exist (no "${token}")`);
    if (!isContainer(node)) throw new Error(`path ${pointer} does not exist ("${token}" is not an object or array)`);
  }
  if (!isContainer(node)) throw new Error(`path ${pointer} does not exist`);
  return { parent: node, key: path.at(-1)! };
}

function read(document: unknown, pointer: string): unknown {
  let node = document;
  for (const token of tokens(pointer)) {
    if (Array.isArray(node)) node = node[arrayIndex(node, token, false)];
    else if (isContainer(node) && Object.hasOwn(node, token)) node = (node as Record<string, unknown>)[token];
    else throw new Error(`path ${pointer} does not exist`);
  }
  return node;
}

function add(document: unknown, pointer: string, value: unknown): void {
  const { parent, key } = parentOf(document, pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, true), 0, value);
  else parent[key] = value;
}

function remove(document: unknown, pointer: string): unknown {
  const { parent, key } = parentOf(document, pointer);
  if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, key, false), 1)[0];
  if (!Object.hasOwn(parent, key)) throw new Error(`path ${pointer} does not exist`);
  const old = parent[key];
  delete parent[key];
  return old;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (!isContainer(a) || !isContainer(b)) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** Applies `operations` in order to a copy of `document` and returns the copy. */
export function applyJsonPatch<T>(document: T, operations: readonly JsonPatchOperation[]): T {
  const result = structuredClone(document);
  operations.forEach((operation, index) => {
    const needsValue = operation.op === 'add' || operation.op === 'replace' || operation.op === 'test';
    if (needsValue && operation.value === undefined) throw new JsonPatchError(index, `op ${operation.op} at ${operation.path} needs a value`);
    try {
      switch (operation.op) {
        case 'add':
          add(result, operation.path, structuredClone(operation.value));
          break;
        case 'remove':
          remove(result, operation.path);
          break;
        case 'replace':
          remove(result, operation.path);
          add(result, operation.path, structuredClone(operation.value));
          break;
        case 'move': {
          const from = operation.from ?? '';
          if (operation.path.startsWith(`${from}/`)) throw new Error(`cannot move ${from} into its own child ${operation.path}`);
          add(result, operation.path, remove(result, from));
          break;
        }
        case 'copy':
          add(result, operation.path, structuredClone(read(result, operation.from ?? '')));
          break;
        case 'test': {
          const actual = read(result, operation.path);
          if (!deepEqual(actual, operation.value)) throw new Error(`test failed: ${operation.path} is ${JSON.stringify(actual)}, not ${JSON.stringify(operation.value)}`);
          break;
        }
      }
    } catch (error) {
      throw new JsonPatchError(index, `op ${operation.op} at ${operation.path}: ${(error as Error).message}`);
    }
  });
  return result;
}
