/**
 * A job asked for in bursts (a refresh of a gauge after each of 1,000 last wills): one run at a
 * time, and one more after it for everything asked meanwhile, instead of N runs competing.
 */
export function coalesced(run: () => Promise<void>, onError: (err: unknown) => void): () => Promise<void> {
  let running = false;
  let again = false;
  return async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        await run();
      } while (again);
    } catch (err) {
      onError(err);
    } finally {
      running = false;
    }
  };
}
