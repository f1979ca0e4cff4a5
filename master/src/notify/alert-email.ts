/**
 * The e-mail made from an alert notification: plain, short, readable on a phone's lock screen
 * (the subject says what and where; the body the rest).
 */
import type { AlertNotification } from '@cctv/protocol';

export interface AlertEmailOptions {
  /** The site's IANA time zone (`Europe/Berlin`): times are also given in it. */
  timeZone?: string;
  /** Prefixed to the subject, to tell sites apart in one mailbox. */
  siteName?: string;
  /** The dashboard's address, given as a link. */
  dashboardUrl?: string;
}

const SUBJECT_MAX = 160;

export function alertEmail(
  n: AlertNotification,
  opts: AlertEmailOptions = {},
): { subject: string; text: string } {
  const a = n.alert;
  const resolved = n.type === 'alert.resolved';
  const where = [a.cameraId && `camera ${a.cameraId}`, a.nodeId && `node ${a.nodeId}`]
    .filter(Boolean)
    .join(', ');
  const head = resolved ? 'Resolved' : a.severity.toUpperCase();
  const site = opts.siteName ? `[${opts.siteName}] ` : '[CCTV] ';
  let subject = `${site}${head}: ${a.message}${where ? ` (${where})` : ''}`;
  if (subject.length > SUBJECT_MAX) subject = `${subject.slice(0, SUBJECT_MAX - 1)}…`;

  const time = (iso: string) => formatTime(iso, opts.timeZone);
  const lines = [
    resolved ? `Resolved: ${a.message}` : a.message,
    '',
    `Severity: ${a.severity}`,
    `Kind:     ${a.kind}`,
    ...(a.nodeId ? [`Node:     ${a.nodeId}`] : []),
    ...(a.cameraId ? [`Camera:   ${a.cameraId}`] : []),
    `Raised:   ${time(a.raisedAt)}`,
    ...(a.resolvedAt ? [`Resolved: ${time(a.resolvedAt)}`] : []),
    ...(a.ruleName ? [`Rule:     ${a.ruleName}`] : []),
  ];
  const e = n.event;
  if (e) {
    lines.push(
      '',
      `Event:    ${e.type} on ${e.cameraId}, ${time(e.start)}${e.end ? ` to ${time(e.end)}` : ' (going on)'}`,
      ...(e.score !== null ? [`Score:    ${e.score.toFixed(2)}`] : []),
      ...(e.zones.length > 0 ? [`Zones:    ${e.zones.join(', ')}`] : []),
    );
  }
  if (n.snapshotUrl) lines.push('', `Snapshot: ${n.snapshotUrl}`);
  if (opts.dashboardUrl) lines.push('', `Dashboard: ${opts.dashboardUrl}`);
  lines.push('', `Alert ${a.id}, notification ${n.id}`);
  return { subject, text: `${lines.join('\n')}\n` };
}

/** ISO time, and the same instant in the site's zone when one is set (and known). */
function formatTime(iso: string, timeZone: string | undefined): string {
  if (!timeZone) return iso;
  try {
    const local = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      dateStyle: 'medium',
      timeStyle: 'long',
    }).format(new Date(iso));
    return `${iso} (${local})`;
  } catch {
    // An unknown zone name: the ISO time alone is still right.
    return iso;
  }
}
