'use client';

import type { CameraView, ExportJobView } from '@cctv/protocol';
import { useEffect, useState } from 'react';
import { FINAL_STATES, listExports } from '@/features/exports/export-api';
import { ExportForm, type ExportPrefill } from '@/features/exports/export-form';
import { ExportJobs } from '@/features/exports/export-jobs';

/** While a job is queued or running, the list is read again this often. */
const POLL_MS = 1_000;

interface Props {
  cameras: CameraView[];
  prefill: ExportPrefill;
  /** The signed-in user is a viewer: the master will refuse. */
  viewer: boolean;
}

/** The export form and the job list, polled every second until every job is finished. */
export function ExportPanel({ cameras, prefill, viewer }: Props) {
  const [jobs, setJobs] = useState<ExportJobView[] | null>(null);
  const [listError, setListError] = useState<string | null>(null);
  const [forbidden, setForbidden] = useState<string | null>(viewer ? 'your role is viewer' : null);
  const [poll, setPoll] = useState(0);

  // biome-ignore lint/correctness/useExhaustiveDependencies: poll is a trigger (a new job restarts polling)
  useEffect(() => {
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = async () => {
      try {
        const answer = await listExports(abort.signal);
        if (answer.ok) {
          setJobs(answer.value);
          setListError(null);
          if (!answer.value.some((j) => !FINAL_STATES.includes(j.state))) return;
        } else if (answer.status === 401) {
          window.location.reload();
          return;
        } else if (answer.status === 403) {
          setForbidden(answer.message);
          return;
        } else setListError(`Could not read the exports (${answer.message}).`);
      } catch (err) {
        if (abort.signal.aborted) return;
        setListError(`The dashboard server is unreachable: ${String(err)}`);
      }
      timer = setTimeout(() => void read(), POLL_MS);
    };
    void read();
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [poll]);

  return (
    <>
      {forbidden ? (
        <p className="notice" role="alert" data-testid="export-forbidden">
          Exports need the operator role ({forbidden}). Ask an administrator.
        </p>
      ) : null}
      <ExportForm
        cameras={cameras}
        prefill={prefill}
        onCreated={(job) => {
          setJobs((js) => [job, ...(js ?? []).filter((j) => j.id !== job.id)]);
          setPoll((n) => n + 1);
        }}
        onForbidden={setForbidden}
      />
      <h2 className="export-title">Exports</h2>
      {listError ? (
        <p className="notice" role="alert" data-testid="export-list-error">
          {listError}
        </p>
      ) : null}
      {jobs === null ? <p className="sub">loading…</p> : <ExportJobs jobs={jobs} />}
    </>
  );
}
