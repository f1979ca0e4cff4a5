/** Signed-in API access for tests that drive a real master over HTTP and its websocket. */
import { signIn } from './api-session.ts';
import { tempDir } from './index.ts';
import { serviceTlsEnv } from './tls.ts';

export { type ApiSession, signIn } from './api-session.ts';

/** The first admin's password tests give the master (`MASTER_ADMIN_PASSWORD`). */
export const TEST_ADMIN_PASSWORD = 'cctv-test-secret-pw-1';

/** Signs in as the first admin made from TEST_ADMIN_PASSWORD. */
export const signInAdmin = (baseUrl: string) => signIn(baseUrl, 'admin', TEST_ADMIN_PASSWORD);

/** The environment of a master under test: the given database, free ports, loopback only. */
export async function testMasterEnv(
  databaseUrl: string,
  extra: Record<string, string> = {},
): Promise<Record<string, string>> {
  return {
    ...serviceTlsEnv(),
    DATABASE_URL: databaseUrl,
    MASTER_DATA_DIR: await tempDir(),
    MASTER_HTTP_PORT: '0',
    MQTT_PORT: '0',
    MASTER_HTTP_HOST: '127.0.0.1',
    MQTT_HOST: '127.0.0.1',
    ...extra,
  };
}
