/**
 * Camera URLs and their passwords: the master keeps a URL with at most a user name in it and
 * the password apart (sealed); the node gets the two put together. Nothing here logs.
 */

/** A URL's password taken out: the URL as it may be shown, and the password ('' when none). */
export function splitPassword(url: string): { url: string; password: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { url, password: '' };
  }
  if (parsed.password === '') return { url, password: '' };
  const password = decodeURIComponent(parsed.password);
  parsed.password = '';
  return { url: parsed.toString(), password };
}

/** The URL with `password` put in, where the URL names a user; unchanged otherwise. */
export function withPassword(url: string, password: string): string {
  if (password === '') return url;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  if (parsed.username === '') return url;
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}

/** `rtsp://user:***@host/…` for anything that is shown or logged. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@\s]*):[^@/\s]*@/i, '$1:***@');
}
