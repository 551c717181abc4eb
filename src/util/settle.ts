/**
 * Run jobs at once and wait for every one to end (fulfilled or not) before throwing the first failure: an inject
 * failing half-way undoes its steps only when none of them is still being done.
 */
export async function allSettledOrThrow<T>(jobs: Array<() => Promise<T>>): Promise<T[]> {
  const results = await Promise.allSettled(jobs.map((job) => job()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}
