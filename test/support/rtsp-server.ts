/** The test RTSP camera (`rtsp-server-process.ts`), stopped after the test file. */
import { onCleanup } from './index.ts';
import { launchRtspServer, type RtspServer, type RtspServerOptions } from './rtsp-server-process.ts';

export {
  ensureRtspServerAvailable,
  type RtspServer,
  type RtspServerOptions,
  RtspServerUnavailableError,
} from './rtsp-server-process.ts';

/** Starts the server and waits for it to listen; it is stopped after the test file. */
export function startRtspServer(opts: RtspServerOptions = {}): Promise<RtspServer> {
  return launchRtspServer(opts, onCleanup);
}
