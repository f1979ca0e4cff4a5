import type { ReactNode } from 'react';
import { LIMITS } from './camera-form';

/** A labelled field of the form, with its problem under it once the user tried to go on. */
export function Field({
  label,
  wide = false,
  problem = null,
  children,
}: {
  label: string;
  wide?: boolean;
  problem?: ReactNode;
  children: ReactNode;
}) {
  return (
    // biome-ignore lint/a11y/noLabelWithoutControl: the control is the child passed in
    <label className={`events-field camera-field${wide ? ' camera-field-wide' : ''}`}>
      <span>{label}</span>
      {children}
      {problem}
    </label>
  );
}

/** A checkbox with its text. */
export function Check(props: {
  checked: boolean;
  disabled?: boolean;
  onChange: (on: boolean) => void;
  testId?: string;
  children: ReactNode;
}) {
  return (
    <label className="camera-check">
      <input
        type="checkbox"
        checked={props.checked}
        disabled={props.disabled}
        onChange={(e) => props.onChange(e.target.checked)}
        data-testid={props.testId}
      />
      {props.children}
    </label>
  );
}

/** A stream URL as typed: monospace, no spelling marks. */
export function UrlInput(props: {
  value: string;
  placeholder?: string;
  onChange: (v: string) => void;
  testId: string;
}) {
  return (
    <input
      value={props.value}
      maxLength={LIMITS.urlMax}
      className="mono"
      spellCheck={false}
      placeholder={props.placeholder}
      onChange={(e) => props.onChange(e.target.value)}
      data-testid={props.testId}
    />
  );
}
