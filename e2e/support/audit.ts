/**
 * Reads the API server's audit log (JSON lines) that the local cluster writes, so tests can count
 * the requests a client really sent — the API server's view, not the client's.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';

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

/**
 * The audit log files that may hold events at or after `since`, oldest first: the API server rotates
 * its log (--audit-log-maxsize) into backups named `<name>-<time>.<ext>` beside it, and a long run
 * can rotate in the middle of a test's window; a backup last written before `since` holds nothing newer.
 */
function auditFiles(since: Date): string[] {
  const current = auditLogPath();
  const dir = dirname(current);
  const ext = extname(current);
  const stem = basename(current, ext);
  const backups = readdirSync(dir)
    .filter((file) => file !== basename(current) && file.startsWith(`${stem}-`) && file.endsWith(ext))
    .map((file) => join(dir, file))
    .filter((file) => statSync(file).mtimeMs >= since.getTime() - 1000)
    .sort();
  return [...backups, current];
}

/** Audit events completed at or after `since` that satisfy `filter` (rotated backups included). */
export function auditEvents(since: Date, filter: (event: AuditEvent) => boolean = () => true): AuditEvent[] {
  const events: AuditEvent[] = [];
  for (const file of auditFiles(since)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line) continue;
      const event = JSON.parse(line) as AuditEvent;
      if (Date.parse(event.stageTimestamp) >= since.getTime() && filter(event)) events.push(event);
    }
  }
  return events;
}
