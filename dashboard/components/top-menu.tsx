'use client';

import Link from 'next/link';
import { usePathname } from 'next/navigation';
import { type ReactNode, useEffect, useState } from 'react';
import { isCurrent, type NavItem } from '@/lib/nav';

/**
 * The pages of the top bar and what follows them (the signed-in user). Wide screens show them
 * in one row; a phone shows a menu button that opens them as a list (globals.css), closed again
 * by a choice, Escape, or the button.
 */
export function TopMenu({ items, children }: { items: readonly NavItem[]; children: ReactNode }) {
  const pathname = usePathname();
  const [open, setOpen] = useState(false);
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new page closes the menu
  useEffect(() => setOpen(false), [pathname]);
  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') setOpen(false);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [open]);

  return (
    <>
      <button
        type="button"
        className="menu-button"
        aria-expanded={open}
        aria-controls="top-menu"
        data-testid="menu-button"
        onClick={() => setOpen((o) => !o)}
      >
        <span aria-hidden="true">{open ? '✕' : '☰'}</span> Menu
      </button>
      <div id="top-menu" className="nav-menu" data-open={open}>
        {items.map((item) => (
          <Link
            key={item.href}
            href={item.href}
            aria-current={isCurrent(item.href, pathname) ? 'page' : undefined}
          >
            {item.label}
          </Link>
        ))}
        {children}
      </div>
    </>
  );
}
