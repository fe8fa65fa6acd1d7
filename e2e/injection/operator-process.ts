/**
 * An operator process with the test mesh and its small injector: the real main.ts (flags, the
 * injection webhook on every replica, HTTP endpoints, shutdown). Prints `{"port":N}` once its
 * metrics endpoint listens.
 */
import { optionsFromArgs, runOperator } from '../../operator/main.ts';
import { testDistributionWithCaAndInjector, testDistributionWithInjector, withCrashingProxy } from '../support/test-distribution.ts';

// MESHWRIGHT_E2E_TEST_MESH=ca: the test mesh with its cacerts CA too.
const base = process.env.MESHWRIGHT_E2E_TEST_MESH === 'ca' ? testDistributionWithCaAndInjector : testDistributionWithInjector;
// MESHWRIGHT_E2E_CRASHING_PROXY=<version>: pods injected for that version crash-loop (a bad release, for the upgrade tests).
const crashing = process.env.MESHWRIGHT_E2E_CRASHING_PROXY;
const distribution = crashing ? withCrashingProxy(base, crashing) : base;
const options = optionsFromArgs(process.argv.slice(2), process.env, [distribution]);
await runOperator({
  ...options,
  leaseDurationMs: 3000,
  renewDeadlineMs: 2000,
  retryPeriodMs: 500,
  onListening: (port) => process.stdout.write(`${JSON.stringify({ port })}\n`),
});
