import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, messageOf, post } from '../api.js';
import { Notice } from '../components/notice.js';
import type { VersionDetail } from '../config-api.js';
import { useSession } from '../session.js';

type Result = { kind: 'output'; text: string } | { kind: 'error'; text: string } | null;

function FunctionCard(props: { name: string; declared: Record<string, unknown> }) {
  const { canWrite } = useSession();
  const [args, setArgs] = useState('');
  const [result, setResult] = useState<Result>(null);
  const [busy, setBusy] = useState(false);
  const id = `fn-${props.name}`;

  const run = async (event: Event) => {
    event.preventDefault();
    let body: { args?: unknown } = {};
    if (args.trim()) {
      try {
        body = { args: JSON.parse(args) };
      } catch (error) {
        setResult({ kind: 'error', text: `The arguments are not valid JSON: ${messageOf(error)}` });
        return;
      }
    }
    setBusy(true);
    setResult(null);
    try {
      const answer = await post<unknown>(
        `/api/v1/config/functions/${encodeURIComponent(props.name)}/test`,
        body,
      );
      setResult({ kind: 'output', text: JSON.stringify(answer.data, null, 2) });
    } catch (error) {
      const code = error instanceof ApiError && error.code ? ` (code ${error.code})` : '';
      setResult({ kind: 'error', text: `${messageOf(error)}${code}` });
    } finally {
      setBusy(false);
    }
  };

  return (
    <article class="function" aria-labelledby={id}>
      <h2 id={id}>{props.name}</h2>
      <pre class="declared">{JSON.stringify(props.declared, null, 2)}</pre>
      {canWrite ? (
        <form onSubmit={run}>
          <label for={`${id}-args`}>Arguments (JSON, optional: the declared ones otherwise)</label>
          <textarea id={`${id}-args`} rows={3} value={args} onInput={(e) => setArgs(e.currentTarget.value)} />
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Running…' : `Test ${props.name}`}
          </button>
        </form>
      ) : (
        <p class="hint">Only admins may run a function.</p>
      )}
      {result?.kind === 'output' && (
        <>
          <h3>Output</h3>
          <pre class="output" tabIndex={0} aria-label={`Output of ${props.name}`}>
            {result.text}
          </pre>
        </>
      )}
      {result?.kind === 'error' && <Notice kind="error">{result.text}</Notice>}
    </article>
  );
}

export function FunctionsScreen() {
  const [functions, setFunctions] = useState<[string, Record<string, unknown>][] | null>(null);
  const [failure, setFailure] = useState<string | null>(null);

  useEffect(() => {
    document.title = 'Functions · Switchboard';
    get<VersionDetail>('/api/v1/config').then(
      (answer) => {
        const declared = (answer.data.config.functions ?? {}) as Record<string, Record<string, unknown>>;
        setFunctions(Object.entries(declared));
      },
      (error) => {
        if (error instanceof ApiError && error.status === 404) setFunctions([]);
        else setFailure(messageOf(error));
      },
    );
  }, []);

  return (
    <section aria-labelledby="functions-title">
      <h1 id="functions-title">Functions of the active version</h1>
      {failure && <Notice kind="error">{failure}</Notice>}
      {functions && functions.length === 0 && <p class="empty">The active version declares no function.</p>}
      {functions?.map(([name, declared]) => (
        <FunctionCard key={name} name={name} declared={declared} />
      ))}
    </section>
  );
}
