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
// Short enough that a process started after a SIGKILL leads within seconds, with a renew deadline
// a loaded CI machine keeps: at 2 s a leader under load lost its lease and exited mid-test, and
// nothing restarts a test's process as the kubelet would (a rotation then waited out its timeout).
await runOperator({
  ...options,
  leaseDurationMs: 6000,
  renewDeadlineMs: 5000,
  retryPeriodMs: 500,
  onListening: (port) => process.stdout.write(`${JSON.stringify({ port })}\n`),
});
