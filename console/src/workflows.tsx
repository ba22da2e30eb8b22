/**
 * The declared workflows: their activities, their declared input, and a start form generated from
 * that input (lambdas/api/inputs.ts): a text field or a choice per string, a number field per number,
 * a yes/no choice per boolean, JSON for objects and arrays, plus free metadata as JSON. The API
 * checks the same declaration, so its refusals (each bad field named) are shown next to the form.
 */
import { useState } from 'preact/hooks';
import { type Api, ApiError } from './api.js';
import type { Identity, InputField, Workflow } from './model.js';
import { mayStart } from './model.js';
import { errorText, href } from './util.js';

export function WorkflowsView({
  workflows,
  identity,
  focus,
  api,
}: {
  workflows: readonly Workflow[];
  identity: Identity;
  focus: string | undefined;
  api: Api;
}) {
  return (
    <section aria-labelledby="workflows-title">
      <h1 id="workflows-title">Workflows</h1>
      {workflows.map((w) => (
        <article class="workflow" key={w.name} id={`workflow-${w.name}`}>
          <h2>{w.name}</h2>
          <p>
            Activities, in order: <strong>{w.activities.join(' → ')}</strong>
          </p>
          <h3>Declared input</h3>
          {w.input === undefined || Object.keys(w.input).length === 0 ? (
            <p class="none">none declared: any metadata is accepted</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">Field</th>
                  <th scope="col">Type</th>
                  <th scope="col">Required</th>
                  <th scope="col">Description</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(w.input).map(([name, field]) => (
                  <tr key={name}>
                    <td>
                      <code>{name}</code>
                    </td>
                    <td>
                      {field.enum
                        ? `${field.type}: ${field.enum.map((v) => JSON.stringify(v)).join(' | ')}`
                        : field.type}
                    </td>
                    <td>{field.required ? 'yes' : 'no'}</td>
                    <td>{field.description ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {mayStart(identity.permissions, w.name) ? (
            <StartForm workflow={w} api={api} open={focus === w.name} />
          ) : (
            <p class="read-only">
              {identity.name} may not start runs of {w.name} ({identity.source}).
            </p>
          )}
        </article>
      ))}
    </section>
  );
}

type Values = Record<string, string>;

/** The value a form field's text stands for, or why it cannot be one. */
function parseFieldText(field: InputField, text: string): { value?: unknown; problem?: string } {
  if (text === '') return {};
  switch (field.type) {
    case 'string':
      return { value: text };
    case 'boolean':
      return { value: text === 'true' };
    case 'number':
    case 'integer': {
      const n = Number(text);
      if (!Number.isFinite(n) || (field.type === 'integer' && !Number.isInteger(n)))
        return { problem: `must be ${field.type === 'integer' ? 'a whole number' : 'a number'}` };
      return { value: n };
    }
    default:
      try {
        return { value: JSON.parse(text) };
      } catch {
        return { problem: `must be JSON (${field.type === 'array' ? '[…]' : '{…}'})` };
      }
  }
}

function StartForm({ workflow, api, open }: { workflow: Workflow; api: Api; open: boolean }) {
  const input = workflow.input ?? {};
  const [uid, setUid] = useState('');
  const [values, setValues] = useState<Values>({});
  const [extra, setExtra] = useState('');
  const [problems, setProblems] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const set = (name: string, text: string) => setValues({ ...values, [name]: text });
  const submit = async (event: Event) => {
    event.preventDefault();
    const found: string[] = [];
    let metadata: Record<string, unknown> = {};
    if (extra.trim() !== '') {
      try {
        const parsed = JSON.parse(extra) as unknown;
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
          found.push('more metadata: must be a JSON object');
        else metadata = parsed as Record<string, unknown>;
      } catch {
        found.push('more metadata: is not JSON');
      }
    }
    for (const [name, field] of Object.entries(input)) {
      const { value, problem } = parseFieldText(field, values[name] ?? '');
      if (problem) found.push(`${name}: ${problem}`);
      else if (value !== undefined) metadata[name] = value;
      else if (field.required) found.push(`${name}: is required`);
    }
    if (!/^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}$/.test(uid))
      found.push('uid: 1-128 letters, digits and ._:@/+=- starting with a letter or digit');
    setProblems(found);
    if (found.length > 0) return;
    setBusy(true);
    try {
      await api.start(workflow.name, uid, metadata);
      location.hash = href(['runs', workflow.name, uid]);
    } catch (error) {
      setProblems(
        error instanceof ApiError && error.issues.length > 0
          ? error.issues.map((i) => `${i.path}: ${i.message}`)
          : [errorText(error)],
      );
      setBusy(false);
    }
  };
  return (
    <details class="start" open={open}>
      <summary>Start a run of {workflow.name}</summary>
      <form onSubmit={submit} aria-label={`Start a run of ${workflow.name}`} noValidate>
        <label class="field">
          Run uid (its business key; starting the same uid again answers the existing run)
          <input
            name="uid"
            required
            value={uid}
            placeholder="order-1234"
            onInput={(e) => setUid(e.currentTarget.value)}
          />
        </label>
        {Object.entries(input).map(([name, field]) => (
          <Field
            key={name}
            name={name}
            field={field}
            text={values[name] ?? ''}
            onText={(t) => set(name, t)}
          />
        ))}
        <label class="field">
          More metadata (JSON object, optional)
          <textarea
            name="metadata"
            rows={3}
            value={extra}
            placeholder="{}"
            onInput={(e) => setExtra(e.currentTarget.value)}
          />
        </label>
        {problems.length > 0 && (
          <ul class="problem" role="alert">
            {problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Starting…' : 'Start the run'}
        </button>
      </form>
    </details>
  );
}

function Field({
  name,
  field,
  text,
  onText,
}: {
  name: string;
  field: InputField;
  text: string;
  onText: (text: string) => void;
}) {
  const label = (
    <>
      <code>{name}</code>
      {field.required ? ' (required)' : ''}
      {field.description ? ` — ${field.description}` : ''}
    </>
  );
  if (field.enum !== undefined || field.type === 'boolean') {
    const options = field.enum ?? [true, false];
    return (
      <label class="field">
        {label}
        <select name={name} value={text} onChange={(e) => onText(e.currentTarget.value)}>
          <option value="">{field.required ? 'choose…' : '(not set)'}</option>
          {options.map((o) => (
            <option key={String(o)} value={String(o)}>
              {field.type === 'boolean' ? (o ? 'yes' : 'no') : String(o)}
            </option>
          ))}
        </select>
      </label>
    );
  }
  if (field.type === 'object' || field.type === 'array') {
    return (
      <label class="field">
        {label}
        <textarea name={name} rows={2} value={text} onInput={(e) => onText(e.currentTarget.value)} />
      </label>
    );
  }
  if (field.type === 'string') {
    return (
      <label class="field">
        {label}
        <input name={name} type="text" value={text} onInput={(e) => onText(e.currentTarget.value)} />
      </label>
    );
  }
  return (
    <label class="field">
      {label}
      <input
        name={name}
        type="number"
        step={field.type === 'integer' ? 1 : 'any'}
        value={text}
        onInput={(e) => onText(e.currentTarget.value)}
      />
    </label>
  );
}
