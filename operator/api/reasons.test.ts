/**
 * Every reason a person can see — on a condition or an Event — is documented in
 * operator/api/README.md. The reasons are collected from the code that raises them, so a new one
 * without documentation fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SummaryReason } from './conditions.ts';
import { CertificateAuthorityReason, ControlPlaneReason, DataPlaneReason, InstallationReason } from '../controllers/meshinstallation/conditions.ts';
import { WriteErrorReason } from '../runtime/errors.ts';
import { ContinuityReason } from '../pki/continuity.ts';
import { UserSecretReason } from '../controllers/certificate-authority.ts';
import { DataPlaneInjectionReason } from '../controllers/meshinstallation/data-plane.ts';
import { EnrolmentReason } from '../controllers/meshinstallation/enrolment.ts';
import { RolloutErrorReason } from '../controllers/meshinstallation/rollout.ts';
import { RolloutReason } from '../rollout/plan.ts';
import { UpgradeEventReason, UpgradeReason } from '../upgrade/plan.ts';
import { RotationReason } from '../pki/rotation.ts';

const operatorDir = join(import.meta.dirname, '..');
const readme = readFileSync(join(import.meta.dirname, 'README.md'), 'utf8');
const documented = new Set([...readme.matchAll(/^\| `([A-Za-z]+)` \|/gm)].map((m) => m[1]!));

function sources(): string[] {
  return readdirSync(operatorDir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => readFileSync(join(operatorDir, f), 'utf8'));
}

/** Reason literals passed to error constructors and Event hooks anywhere in the operator. */
function reasonsInCode(): Set<string> {
  const found = new Set<string>();
  const patterns = [
    /new (?:UnsupportedSpecError|CertificateAuthorityError|ReconcileError)\(\s*'([A-Za-z]+)'/g,
    /CertificateAuthorityError\([^)]*?\? '([A-Za-z]+)' : '([A-Za-z]+)'/g,
    /onEvent\?\.\([^,]+,\s*'(?:Normal|Warning)',\s*'([A-Za-z]+)'/g,
  ];
  for (const text of sources()) {
    for (const pattern of patterns) for (const match of text.matchAll(pattern)) for (const reason of match.slice(1)) if (reason) found.add(reason);
  }
  return found;
}

test('the scan finds the reasons it must (so an empty scan cannot pass)', () => {
  const found = reasonsInCode();
  for (const reason of ['VersionNotInCatalog', 'OverlayInvalid', 'SecretNotFound', 'TrustAnchorsInvalid', 'DriftCorrected', 'Ready']) assert.ok(found.has(reason), reason);
});

test('every reason in the code and in the reason constants is documented in operator/api/README.md', () => {
  const constants = [SummaryReason, ControlPlaneReason, CertificateAuthorityReason, DataPlaneReason, InstallationReason, WriteErrorReason, ContinuityReason, UserSecretReason, DataPlaneInjectionReason, EnrolmentReason, RolloutReason, RolloutErrorReason, UpgradeReason, UpgradeEventReason, RotationReason].flatMap((o) => Object.values(o));
  const missing = [...new Set([...constants, ...reasonsInCode()])].filter((reason) => !documented.has(reason)).sort();
  assert.deepEqual(missing, [], `add these to the Reasons table of operator/api/README.md: ${missing.join(', ')}`);
});
