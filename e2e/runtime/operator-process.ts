/**
 * An operator process with the test distribution, for the failover test: the real main.ts
 * (leader election, HTTP endpoints, shutdown) with short lease timings. Prints `{"port":N}`
 * once its metrics endpoint listens.
 */
import { optionsFromArgs, runOperator } from '../../operator/main.ts';
import { testDistribution } from '../support/test-distribution.ts';

const options = optionsFromArgs(process.argv.slice(2), process.env, [testDistribution]);
await runOperator({
  ...options,
  leaseDurationMs: 3000,
  renewDeadlineMs: 2000,
  retryPeriodMs: 500,
  onListening: (port) => process.stdout.write(`${JSON.stringify({ port })}\n`),
});
