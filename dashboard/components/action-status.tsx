/** What became of an admin's last change: the master's refusal, or what was done. */
export function ActionStatus({
  error,
  done,
  testId,
}: {
  error: string | null;
  done: string | null;
  testId?: string;
}) {
  if (error)
    return (
      <span className="form-error" role="alert" data-testid={testId}>
        {error}
      </span>
    );
  if (done)
    return (
      <span className="form-ok" role="status" data-testid={testId}>
        {done}
      </span>
    );
  return null;
}
