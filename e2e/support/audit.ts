/**
 * Reads the API server's audit log (JSON lines) that the local cluster writes, so tests can count
 * the requests a client really sent — the API server's view, not the client's.
 */
import { readFileSync } from 'node:fs';

/** The fields of an audit event that tests look at. */
export interface AuditEvent {
  verb: string;
  requestURI: string;
  userAgent?: string;
  stageTimestamp: string;
  user?: { username?: string };
  objectRef?: { resource?: string; namespace?: string; name?: string; apiGroup?: string; subresource?: string };
  responseStatus?: { code?: number };
}

/** Verbs that change state. */
export const writeVerbs = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

/** The audit log's path; tests that count requests need the local cluster (or MESHWRIGHT_TEST_AUDIT_LOG). */
export function auditLogPath(): string {
  const path = process.env.MESHWRIGHT_TEST_AUDIT_LOG;
  if (!path) throw new Error('MESHWRIGHT_TEST_AUDIT_LOG is not set: counting requests needs the API server audit log of the local cluster');
  return path;
}

/** Audit events completed at or after `since` that satisfy `filter`. */
export function auditEvents(since: Date, filter: (event: AuditEvent) => boolean = () => true): AuditEvent[] {
  const events: AuditEvent[] = [];
  for (const line of readFileSync(auditLogPath(), 'utf8').split('\n')) {
    if (!line) continue;
    const event = JSON.parse(line) as AuditEvent;
    if (Date.parse(event.stageTimestamp) >= since.getTime() && filter(event)) events.push(event);
  }
  return events;
}
