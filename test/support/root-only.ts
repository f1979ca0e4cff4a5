/**
 * Tests that need root (mounts, namespaces, systemd) skip where they cannot run. In CI
 * (`CI=true`) the machine is meant to run them, so there a skip would hide a test that never
 * ran: it is a failure instead.
 */
import type { TestContext } from 'node:test';

const inCi = () => process.env.CI === 'true';

/**
 * The `skip` option of root-only tests: the reason they cannot run here, or false when they
 * can. Under CI a reason throws, failing the test file.
 */
export function rootOnlySkip(unavailable: string | null): string | false {
  if (unavailable === null) return false;
  if (inCi()) throw new Error(`CI must be able to run the root-only tests: ${unavailable}`);
  return unavailable;
}

/** Skips the running test because it cannot run here; under CI, fails it. */
export function skipRootOnly(t: TestContext, unavailable: string): void {
  if (inCi()) throw new Error(`CI must be able to run this root-only test: ${unavailable}`);
  t.skip(unavailable);
}
