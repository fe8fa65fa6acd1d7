/**
 * Bounded concurrency for writes a pass makes in numbers (a namespace per enrolled namespace, a
 * patch per restarted workload): one at a time makes a thousand namespaces take a thousand round
 * trips in a row, all at once would take the whole request pool the lease renewals share.
 */

/**
 * Runs `task` over `items` with at most `limit` in flight and resolves with the results in the
 * order of `items`. The first rejection rejects the whole, after the tasks already started settle
 * (none is left running behind the caller's back); no new task starts after it.
 */
export async function mapLimited<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async () => {
    while (!failure && next < items.length) {
      const index = next++;
      try {
        results[index] = await task(items[index]!, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  if (failure) throw failure.error;
  return results;
}
