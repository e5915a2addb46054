/** Small shared pieces: labelled fields, error and notice boxes, confirmations, masked values. */
import { cloneElement, type ComponentChildren, type VNode } from 'preact';
import { useEffect, useId, useRef } from 'preact/hooks';
import { messageOf } from './api.js';

export function ErrorBox({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null;
  return (
    <p class="error" role="alert">
      {messageOf(error)}
    </p>
  );
}

export function Notice({ children }: { children: ComponentChildren }) {
  return (
    <p class="notice" role="status">
      {children}
    </p>
  );
}

/** A control with its label (label[for], so its name is exactly the label) and an optional hint. */
export function Field({ label, children, hint }: { label: string; children: VNode<any>; hint?: ComponentChildren }) {
  const id = useId();
  const hintId = hint ? `${id}-hint` : undefined;
  return (
    <div class="field">
      <label class="label" for={id}>
        {label}
      </label>
      {cloneElement(children, { id, 'aria-describedby': hintId })}
      {hint ? (
        <span class="hint" id={hintId}>
          {hint}
        </span>
      ) : null}
    </div>
  );
}

/** An inline confirmation: the question, a confirming button and Cancel (or Escape). */
export function Confirm({
  children,
  confirmLabel,
  onConfirm,
  onCancel,
  busy,
  danger,
  disabled,
}: {
  children: ComponentChildren;
  confirmLabel: string;
  onConfirm: () => void;
  onCancel: () => void;
  busy?: boolean;
  danger?: boolean;
  /** The confirming button only (say, until the name is typed); Cancel stays. */
  disabled?: boolean;
}) {
  // Keyboard users land in the question (not on the confirming button); Escape cancels.
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => box.current?.focus(), []);
  return (
    <div
      class="confirm"
      role="alertdialog"
      aria-label={confirmLabel}
      tabIndex={-1}
      ref={box}
      onKeyDown={(e) => {
        if (e.key === 'Escape' && !busy) onCancel();
      }}
    >
      <div>{children}</div>
      <div class="actions">
        <button type="button" class={danger ? 'danger' : 'primary'} disabled={busy || disabled} onClick={onConfirm}>
          {confirmLabel}
        </button>
        <button type="button" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
      </div>
    </div>
  );
}

/** The marker a keys-only caller sees in place of a value. */
export function Hidden() {
  return (
    <span class="hidden-value" title="Your role may see this key but not its value">
      hidden
    </span>
  );
}

export const MASK = '••••••••';

export function Loading({ what }: { what: string }) {
  return <p class="muted">Loading {what}…</p>;
}

/** A column of a list table: its heading, or the heading and the cell's class (`num`: right-aligned). */
export type Column = string | [label: string, cls: string];

/** A list table's header row; `actions` adds the last column (for row buttons), named for screen readers only. */
export function TableHead({ cols, actions = false }: { cols: Column[]; actions?: boolean }) {
  return (
    <thead>
      <tr>
        {cols.map((c) => (typeof c === 'string' ? <th>{c}</th> : <th class={c[1]}>{c[0]}</th>))}
        {actions ? (
          <th>
            <span class="sr-only">Actions</span>
          </th>
        ) : null}
      </tr>
    </thead>
  );
}

/** The buttons under a change's review: Save (the primary action, off while busy) and Back to editing. */
export function ReviewActions({ busy, onSave, onBack }: { busy: boolean; onSave: () => unknown; onBack: () => void }) {
  return (
    <div class="actions">
      <button type="button" class="primary" disabled={busy} onClick={onSave}>
        Save
      </button>
      <button type="button" onClick={onBack}>
        Back to editing
      </button>
    </div>
  );
}

export function Tabs({ tabs, current, hrefOf }: { tabs: [id: string, label: string][]; current: string; hrefOf: (id: string) => string }) {
  return (
    <nav class="tabs" aria-label="Sections">
      {tabs.map(([id, label]) => (
        <a href={hrefOf(id)} aria-current={id === current ? 'page' : undefined}>
          {label}
        </a>
      ))}
    </nav>
  );
}

/**
 * What a save did, said where it happened: a polite live region, so a screen reader announces
 * it too. Renders nothing until there is a message (the region itself stays for the
 * announcement to be heard).
 */
export function SaveStatus({ message }: { message: string | undefined }) {
  return (
    <p class={message ? 'saved' : 'saved empty'} role="status" aria-live="polite">
      {message ?? ''}
    </p>
  );
}

/**
 * A message carried across a navigation (a deleted group's page is gone; the project page
 * says what happened and how to undo it). Read once.
 */
let flash: string | undefined;
export function setFlash(message: string): void {
  flash = message;
}
export function takeFlash(): string | undefined {
  const m = flash;
  flash = undefined;
  return m;
}
