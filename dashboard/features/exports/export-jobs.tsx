'use client';

import type { ExportJobView } from '@cctv/protocol';
import { sizeText } from '@/features/exports/export-api';

const when = (iso: string) => new Date(iso).toLocaleString([], { hour12: false });
const BADGE: Record<ExportJobView['state'], string> = {
  queued: 'badge-starting',
  running: 'badge-recording',
  done: 'badge-online',
  failed: 'badge-failed',
  expired: '',
};

/** The user's exports (an admin's: everyone's), newest first, with progress and download links. */
export function ExportJobs({ jobs }: { jobs: ExportJobView[] }) {
  if (jobs.length === 0) return <p className="sub">No exports yet.</p>;
  return (
    <div className="table-wrap">
      <table className="fleet export-jobs">
        <thead>
          <tr>
            <th>Camera</th>
            <th>Range</th>
            <th>By</th>
            <th>State</th>
            <th>Progress</th>
            <th>File</th>
          </tr>
        </thead>
        <tbody>
          {jobs.map((job) => {
            const pct = Math.round(Math.min(1, Math.max(0, job.progress)) * 100);
            return (
              <tr key={job.id} data-testid="export-job" data-job-id={job.id} data-state={job.state}>
                <td className="mono">{job.cameraId}</td>
                <td className="mono">
                  {when(job.from)} → {when(job.to)}
                  <div className="sub">
                    {Math.round((Date.parse(job.to) - Date.parse(job.from)) / 1000)} s
                    {job.blurFaces ? ' · faces blurred' : ''}
                    {job.blurMotion ? ' · moving people blurred' : ''}
                    {job.keepVisible ? ' · blurred outside the visible area' : ''}
                  </div>
                </td>
                <td>{job.username}</td>
                <td>
                  <span className={`badge ${BADGE[job.state]}`} data-testid="export-state">
                    {job.state}
                  </span>
                  {job.error ? (
                    <div className="export-error" role="alert" data-testid="export-error">
                      {job.error}
                    </div>
                  ) : null}
                </td>
                <td>
                  <div
                    className="export-progress"
                    role="progressbar"
                    aria-label={`Export of ${job.cameraId}`}
                    aria-valuemin={0}
                    aria-valuemax={100}
                    aria-valuenow={pct}
                    data-testid="export-progress"
                  >
                    <div
                      className={`export-progress-fill export-progress-${job.state}`}
                      style={{ width: `${pct}%` }}
                    />
                  </div>
                  <span className="sub mono">{pct}%</span>
                </td>
                <td>
                  {job.state === 'done' && job.downloadUrl ? (
                    <a href={job.downloadUrl} download data-testid="export-download">
                      Download
                    </a>
                  ) : (
                    <span className="sub">{job.state === 'expired' ? 'deleted' : '—'}</span>
                  )}
                  <div className="sub">
                    {sizeText(job.bytes)}
                    {job.expiresAt && job.state === 'done' ? ` · until ${when(job.expiresAt)}` : ''}
                  </div>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
