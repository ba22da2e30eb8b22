/**
 * The confirmation every action asks for: a modal `<dialog>` (focus moves into it, Escape cancels,
 * focus returns to the button afterwards) that says what will happen before anything does.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { errorText } from './util.js';

export interface ConfirmRequest {
  readonly title: string;
  /** What will happen, in a sentence or two. */
  readonly consequence: string;
  readonly confirmLabel: string;
  readonly danger?: boolean;
  /** Ask for an optional reason (kept as the run's message). */
  readonly reason?: boolean;
  readonly run: (reason: string | undefined) => Promise<unknown>;
}

export function ConfirmDialog({
  request,
  onClose,
}: {
  request: ConfirmRequest;
  onClose: (done: boolean) => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [reason, setReason] = useState('');
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
  }, []);
  const confirm = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await request.run(reason.trim() === '' ? undefined : reason.trim());
      ref.current?.close();
      onClose(true);
    } catch (e) {
      setError(errorText(e));
      setBusy(false);
    }
  };
  return (
    <dialog
      ref={ref}
      class="confirm"
      aria-labelledby="confirm-title"
      onCancel={(e) => {
        e.preventDefault();
        if (!busy) onClose(false);
      }}
    >
      <form onSubmit={confirm}>
        <h2 id="confirm-title">{request.title}</h2>
        <p class="consequence">{request.consequence}</p>
        {request.reason && (
          <label class="field">
            Reason (optional, kept as the run's message)
            <input value={reason} maxLength={1000} onInput={(e) => setReason(e.currentTarget.value)} />
          </label>
        )}
        {error && (
          <p class="problem" role="alert">
            {error}
          </p>
        )}
        <div class="buttons">
          <button type="button" onClick={() => onClose(false)} disabled={busy}>
            Keep as is
          </button>
          <button type="submit" class={request.danger ? 'danger' : 'primary'} disabled={busy}>
            {busy ? 'Working…' : request.confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}
