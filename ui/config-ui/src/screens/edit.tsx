import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, get, messageOf, post } from '../api.js';
import { DiffView } from '../components/diff-view.js';
import { Notice } from '../components/notice.js';
import { configSchema, type SaveAnswer, type VersionDetail } from '../config-api.js';
import { createJsonEditor, type JsonEditor, type Located } from '../editor/editor.js';
import type { KeyHelp } from '../editor/hover.js';
import { href } from '../router.js';
import { useSession } from '../session.js';

const EMPTY_DOCUMENT = '{\n  "streams": {}\n}\n';

type Outcome = { kind: 'saved'; answer: SaveAnswer } | { kind: 'refused'; text: string } | null;

function activationMessage(error: SaveAnswer['activation_error']): string | null {
  if (!error) return null;
  if (typeof error === 'string') return error;
  return error.detail ?? error.message ?? JSON.stringify(error);
}

export function EditScreen(props: { from: string | null }) {
  const { canWrite } = useSession();
  const host = useRef<HTMLDivElement>(null);
  const editor = useRef<JsonEditor | null>(null);
  const [base, setBase] = useState<string | null>(null);
  const [problems, setProblems] = useState<Located[]>([]);
  const [loadFailure, setLoadFailure] = useState<string | null>(null);
  const [message, setMessage] = useState('');
  const [version, setVersion] = useState('');
  const [activate, setActivate] = useState(true);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome>(null);
  const [diff, setDiff] = useState<{ text: string; against: string } | null>(null);
  const [layout, setLayout] = useState<'unified' | 'split'>('split');
  const [keyHelp, setKeyHelp] = useState<KeyHelp | null>(null);

  useEffect(() => {
    document.title = 'Editor · Switchboard';
    let disposed = false;
    const load = async () => {
      const schema = await configSchema();
      let text = EMPTY_DOCUMENT;
      let from: string | null = null;
      try {
        const query = props.from ? `?version=${encodeURIComponent(props.from)}` : '';
        const answer = await get<VersionDetail>(`/api/v1/config${query}`);
        text = `${JSON.stringify(answer.data.config, null, 2)}\n`;
        from = answer.data.version;
      } catch (error) {
        // No version yet: start from an empty document.
        if (!(error instanceof ApiError && error.status === 404 && !props.from)) throw error;
      }
      if (disposed || !host.current) return;
      setBase(from);
      editor.current?.destroy();
      editor.current = createJsonEditor({
        host: host.current,
        doc: text,
        schema,
        label: 'Configuration document',
        readOnly: !canWrite,
        onProblems: setProblems,
        onKeyHelp: setKeyHelp,
        onChange: () => {
          setOutcome(null);
          setDiff(null);
        },
      });
    };
    load().catch((error) => setLoadFailure(messageOf(error)));
    return () => {
      disposed = true;
      editor.current?.destroy();
      editor.current = null;
    };
  }, [props.from, canWrite]);

  const documentValue = (): unknown | undefined => {
    const text = editor.current?.view.state.doc.toString();
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  };

  const localProblems = problems.filter((p) => p.source !== 'server');
  const invalid = localProblems.length > 0;

  const save = async (event: Event) => {
    event.preventDefault();
    const config = documentValue();
    // Nothing leaves the page while the document is not valid.
    if (invalid || config === undefined) return;
    setBusy(true);
    setOutcome(null);
    try {
      const body = {
        config,
        activate,
        ...(message.trim() ? { message: message.trim() } : {}),
        ...(version.trim() ? { version: version.trim() } : {}),
      };
      const answer = await post<SaveAnswer>('/api/v1/config', body);
      setOutcome({ kind: 'saved', answer: answer.data });
      setBase(answer.data.version);
      setMessage('');
      setVersion('');
    } catch (error) {
      if (error instanceof ApiError && error.problem.errors.length > 0) {
        const inDocument = error.problem.errors
          .filter((p) => p.pointer === '/config' || p.pointer.startsWith('/config/'))
          .map((p) => ({ ...p, pointer: p.pointer.slice('/config'.length) }));
        const elsewhere = error.problem.errors.filter(
          (p) => !(p.pointer === '/config' || p.pointer.startsWith('/config/')),
        );
        editor.current?.showServerProblems(inDocument);
        setOutcome({
          kind: 'refused',
          text: `The server refused the document: ${inDocument.length} problem(s) are marked at their lines.${
            elsewhere.length ? ` ${elsewhere.map((p) => `${p.pointer}: ${p.message}`).join('; ')}` : ''
          }`,
        });
      } else {
        setOutcome({ kind: 'refused', text: `Not saved: ${messageOf(error)}` });
      }
    } finally {
      setBusy(false);
    }
  };

  const showDiff = async () => {
    const config = documentValue();
    if (config === undefined) return;
    try {
      const answer = await post<{ diff: string }>('/api/v1/config/diff', { config });
      setDiff({ text: answer.data.diff, against: 'the active version' });
    } catch (error) {
      setOutcome({ kind: 'refused', text: `No diff: ${messageOf(error)}` });
    }
  };

  const activation = outcome?.kind === 'saved' ? activationMessage(outcome.answer.activation_error) : null;

  return (
    <section aria-labelledby="edit-title" class="edit">
      <h1 id="edit-title">{canWrite ? 'Edit the configuration' : 'The configuration'}</h1>
      <p class="hint">
        {base ? `Starting from version ${base}.` : 'Starting from an empty document.'} Keys complete with
        Ctrl+Space; hover a key for its description. Tab moves on to the next control; Escape first leaves a
        completion list.
      </p>
      {loadFailure && <Notice kind="error">{loadFailure}</Notice>}
      <div class="editor-host" ref={host} />
      <p class="key-help" aria-live="polite" aria-label="About the key at the caret">
        {keyHelp ? (
          <>
            <strong>{keyHelp.key}</strong>
            {keyHelp.type ? ` (${keyHelp.type})` : ''}
            {keyHelp.text ? `: ${keyHelp.text}` : ''}
          </>
        ) : (
          'Put the caret on a key to read its description here.'
        )}
      </p>
      <div class="problems" aria-live="polite">
        {problems.length === 0 ? (
          <p class="ok">No problems found.</p>
        ) : (
          <>
            <h2 class="problems-title">
              {problems.length} problem{problems.length === 1 ? '' : 's'}
            </h2>
            <ul>
              {problems.map((problem, index) => (
                <li key={index}>
                  <button type="button" class="link" onClick={() => editor.current?.reveal(problem)}>
                    Line {problem.line}
                    {problem.pointer ? ` (${problem.pointer})` : ''}: {problem.message}
                    {problem.source === 'server' ? ' [server]' : ''}
                  </button>
                </li>
              ))}
            </ul>
          </>
        )}
      </div>
      {canWrite && (
        <form class="save" onSubmit={save} aria-label="Save the document">
          <div class="field">
            <label for="save-message">Message</label>
            <input
              id="save-message"
              maxLength={500}
              value={message}
              onInput={(e) => setMessage(e.currentTarget.value)}
            />
          </div>
          <div class="field small">
            <label for="save-version">Version (optional)</label>
            <input
              id="save-version"
              placeholder="next patch"
              value={version}
              onInput={(e) => setVersion(e.currentTarget.value)}
            />
          </div>
          <div class="field check">
            <input
              id="save-activate"
              type="checkbox"
              checked={activate}
              onChange={(e) => setActivate(e.currentTarget.checked)}
            />
            <label for="save-activate">Activate now</label>
          </div>
          <div class="actions">
            <button type="button" onClick={() => void showDiff()} disabled={invalid}>
              Diff against active
            </button>
            <button
              type="submit"
              class="primary"
              disabled={busy || invalid}
              aria-describedby={invalid ? 'why-not-saved' : undefined}
            >
              {busy ? 'Saving…' : 'Save'}
            </button>
          </div>
          {invalid && (
            <p id="why-not-saved" class="hint">
              Fix the problems above to save: nothing is sent while the document is invalid.
            </p>
          )}
        </form>
      )}
      {outcome?.kind === 'refused' && <Notice kind="error">{outcome.text}</Notice>}
      {outcome?.kind === 'saved' && (
        <Notice kind={activation ? 'error' : 'success'}>
          Saved as version{' '}
          <a href={href(`versions/${encodeURIComponent(outcome.answer.version)}`)}>
            {outcome.answer.version}
          </a>
          {outcome.answer.active
            ? ', now active.'
            : activation
              ? `, but it could not be activated: ${activation}`
              : ', not activated.'}
        </Notice>
      )}
      {outcome?.kind === 'saved' && outcome.answer.diff && (
        <>
          <h2>What changed</h2>
          <DiffView
            diff={outcome.answer.diff}
            layout={layout}
            caption={`Changes in version ${outcome.answer.version}`}
          />
        </>
      )}
      {diff && (
        <>
          <div class="title-row">
            <h2>Draft against {diff.against}</h2>
            <LayoutChoice layout={layout} onChange={setLayout} />
          </div>
          <DiffView diff={diff.text} layout={layout} caption={`The draft against ${diff.against}`} />
        </>
      )}
    </section>
  );
}

export function LayoutChoice(props: {
  layout: 'unified' | 'split';
  onChange: (layout: 'unified' | 'split') => void;
}) {
  return (
    <fieldset class="layout">
      <legend>Layout</legend>
      <label>
        <input
          type="radio"
          name="diff-layout"
          checked={props.layout === 'split'}
          onChange={() => props.onChange('split')}
        />{' '}
        Side by side
      </label>
      <label>
        <input
          type="radio"
          name="diff-layout"
          checked={props.layout === 'unified'}
          onChange={() => props.onChange('unified')}
        />{' '}
        Unified
      </label>
    </fieldset>
  );
}
