/**
 * The one error type a reconcile reports, as cert-manager splits them:
 *
 * - **terminal**: only a change of the spec can fix it (a version not in the catalog, an overlay
 *   that does not apply). Shown as `Stalled`, not retried: the next spec change enqueues the key.
 * - **transient**: retried with per-key backoff and shown while it lasts (a forbidden write, a
 *   conflict, an API server that rejected an object). Some transient errors still need a person
 *   outside the spec (a user's CA Secret that is invalid, an object the API server refuses):
 *   those also stall — `Stalled=True` — but are retried, because what fixes them is not a spec
 *   change the operator would be told about.
 *
 * Every error carries a CamelCase reason (a condition reason and Event reason, documented in
 * `operator/api/README.md`) and a message a person can act on.
 */
import { KubeApiError } from './kube.ts';

/** The object an error is about, for messages and conditions. */
export interface ErrorSubject {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

/** How an error is handled; see the module comment. */
export interface ReconcileErrorOptions {
  /** Only a spec change can fix it: shown as Stalled and not retried. */
  terminal?: boolean;
  /** Shown as Stalled even though it is retried (it needs a person, but not a spec change). */
  stalls?: boolean;
  /** The object the error is about. */
  subject?: ErrorSubject;
}

/** An error of a reconcile pass with a reason, a message and how it is handled. */
export class ReconcileError extends Error {
  /** CamelCase reason, shown on conditions and Events. */
  readonly reason: string;
  /** Only a spec change can fix it: not retried. */
  readonly terminal: boolean;
  /** Shown as Stalled (always true for terminal errors). */
  readonly stalls: boolean;
  /** The object the error is about, if any. */
  readonly subject?: ErrorSubject;

  constructor(reason: string, message: string, options: ReconcileErrorOptions = {}) {
    super(message);
    this.name = 'ReconcileError';
    this.reason = reason;
    this.terminal = options.terminal ?? false;
    this.stalls = this.terminal || (options.stalls ?? false);
    this.subject = options.subject;
  }
}

/** `Kind namespace/name` or `Kind name`: how messages name an object. */
export function describeObject(subject: ErrorSubject): string {
  return `${subject.kind} ${subject.namespace ? `${subject.namespace}/` : ''}${subject.name}`;
}

/** Reasons of errors from writes the API server refused (see {@link writeError}). */
export const WriteErrorReason = {
  /** 422: the object is invalid (often an overlay's doing). */
  ObjectInvalid: 'ObjectInvalid',
  /** 403: the operator's RBAC does not allow the write. */
  WriteForbidden: 'WriteForbidden',
  /** 409: another writer holds the object or it changed under us. */
  WriteConflict: 'WriteConflict',
  /** Anything else the API server or the network returned. */
  WriteFailed: 'WriteFailed',
} as const;

/**
 * A failed write of `subject`, as a ReconcileError whose message names the object and carries the
 * API server's own words. Always retried with backoff; an object the API server judges invalid
 * also stalls, since retrying the same object cannot succeed until someone changes the spec or the
 * cluster (but an admission webhook or a CRD version may be what changes, so it is retried).
 */
export function writeError(verb: 'apply' | 'delete', subject: ErrorSubject, error: unknown): ReconcileError {
  const what = describeObject(subject);
  if (!(error instanceof KubeApiError)) {
    return new ReconcileError(WriteErrorReason.WriteFailed, `${verb} ${what} failed: ${error instanceof Error ? error.message : String(error)}`, { subject });
  }
  const detail = error.apiMessage;
  switch (error.status) {
    case 422:
      return new ReconcileError(WriteErrorReason.ObjectInvalid, `the API server rejected ${what}: ${detail}; if an entry of spec.overlays produces this object, fix that entry`, { subject, stalls: true });
    case 403:
      return new ReconcileError(WriteErrorReason.WriteForbidden, `the operator may not ${verb} ${what}: ${detail}; grant the operator's ServiceAccount this permission (manifests/operator.yaml holds the RBAC it needs)`, { subject });
    case 409:
      return new ReconcileError(WriteErrorReason.WriteConflict, `${verb} ${what} conflicted: ${detail}`, { subject });
    default:
      return new ReconcileError(WriteErrorReason.WriteFailed, `${verb} ${what} failed with HTTP ${error.status}: ${detail}`, { subject });
  }
}
