/**
 * An operator process with the test mesh and its small injector: the real main.ts (flags, the
 * injection webhook on every replica, HTTP endpoints, shutdown). Prints `{"port":N}` once its
 * metrics endpoint listens.
 */
import { optionsFromArgs, runOperator } from '../../operator/main.ts';
import { testDistributionWithInjector } from '../support/test-distribution.ts';

const options = optionsFromArgs(process.argv.slice(2), process.env, [testDistributionWithInjector]);
await runOperator({
  ...options,
  leaseDurationMs: 3000,
  renewDeadlineMs: 2000,
  retryPeriodMs: 500,
  onListening: (port) => process.stdout.write(`${JSON.stringify({ port })}\n`),
});
