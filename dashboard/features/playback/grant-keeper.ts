/**
 * Footage URLs carry a grant that works a few minutes (`expiresAt`). A player that plays longer
 * keeps going through this: every request hls.js makes goes out under the newest grant, and
 * when the grant nears its end the next request first asks the master for a new one (audited as
 * a renewal). The video never stops for it.
 */
// The browser-safe entry: the main one would bring the validators along.
import { gatewayPaths } from '@cctv/protocol/gateway-routes';

/** A new grant's URL (any URL of it: only its grant is taken) and its expiry. */
export interface RenewedGrant {
  url: string;
  expiresAt: string;
}

/** Asked for a renewal once less than this share of the grant's life is left. */
const RENEW_AT_SHARE = 1 / 3;

export class GrantKeeper {
  private grant: string;
  private expiresAt: number;
  private life: number;
  private renewing: Promise<void> | null = null;

  constructor(
    url: string,
    expiresAt: string,
    private readonly renew: () => Promise<RenewedGrant>,
  ) {
    this.grant = gatewayPaths.grantOf(url) ?? '';
    this.expiresAt = Date.parse(expiresAt);
    this.life = Math.max(0, this.expiresAt - Date.now());
  }

  /** hls.js `xhrSetup`: opens the request under the current grant (renewed first when due). */
  readonly xhrSetup = async (xhr: XMLHttpRequest, url: string): Promise<void> => {
    const grant = await this.current();
    xhr.open('GET', grant ? gatewayPaths.withGrant(url, grant) : url, true);
  };

  private async current(): Promise<string> {
    if (this.expiresAt - Date.now() < this.life * RENEW_AT_SHARE) {
      this.renewing ??= this.renew()
        .then((next) => {
          const grant = gatewayPaths.grantOf(next.url);
          if (!grant) return;
          this.grant = grant;
          this.expiresAt = Date.parse(next.expiresAt);
          this.life = Math.max(0, this.expiresAt - Date.now());
        })
        // Not renewed (signed out, the camera taken away): the old grant is used until it is
        // refused, and the player reports that refusal.
        .catch(() => {})
        .finally(() => {
          this.renewing = null;
        });
      await this.renewing;
    }
    return this.grant;
  }
}
