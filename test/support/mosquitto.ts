/**
 * Debian's Mosquitto on a free port for tests, no persistence; stopped after the file. Anonymous
 * access, or with `auth` the logins of a password file and the topic rules of an ACL file
 * (`mosquitto-process.ts` starts it; `options`: more config lines, its open-file limit).
 */
import { onCleanup, tempDir } from './index.ts';
import { launchMosquitto, type Mosquitto, type MosquittoOptions } from './mosquitto-process.ts';

export { MOSQUITTO, type Mosquitto } from './mosquitto-process.ts';

export async function startMosquitto(
  auth?: { passwordFile: string; aclFile: string },
  options: Pick<MosquittoOptions, 'config' | 'openFiles'> = {},
): Promise<Mosquitto> {
  const { url, port, stop } = await launchMosquitto(
    { dir: await tempDir('cctv-mosquitto-'), auth, ...options },
    onCleanup,
  );
  return { url, port, stop };
}
