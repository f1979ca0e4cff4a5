'use client';

import { type ReactNode, useEffect, useRef } from 'react';

/** A modal dialog, open while mounted; Escape closes it. */
export function Dialog({
  title,
  onClose,
  testId,
  children,
}: {
  title: string;
  onClose: () => void;
  testId: string;
  children: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  return (
    <dialog ref={ref} className="camera-dialog" onClose={onClose} aria-label={title} data-testid={testId}>
      <h2>{title}</h2>
      {children}
    </dialog>
  );
}

/** The page's title, facts under it and an action on the right. */
export function PageHead({
  title,
  facts,
  children,
}: {
  title: ReactNode;
  facts: ReactNode;
  children: ReactNode;
}) {
  return (
    <header className="panel-head">
      <div>
        <h2>{title}</h2>
        <div className="facts">{facts}</div>
      </div>
      {children}
    </header>
  );
}
