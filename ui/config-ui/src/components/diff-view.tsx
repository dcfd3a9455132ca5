import { useMemo } from 'preact/hooks';
import { type DiffLine, parseUnifiedDiff } from '../diff-lines.js';

interface Row {
  left: DiffLine | null;
  right: DiffLine | null;
  hunk?: string;
}

/** Side by side: removed lines beside the added ones that replaced them. */
function pairUp(lines: DiffLine[]): Row[] {
  const rows: Row[] = [];
  let removed: DiffLine[] = [];
  let added: DiffLine[] = [];
  const flush = () => {
    for (let i = 0; i < Math.max(removed.length, added.length); i++) {
      rows.push({ left: removed[i] ?? null, right: added[i] ?? null });
    }
    removed = [];
    added = [];
  };
  for (const line of lines) {
    if (line.kind === 'removed') removed.push(line);
    else if (line.kind === 'added') added.push(line);
    else {
      flush();
      if (line.kind === 'hunk') rows.push({ left: null, right: null, hunk: line.text });
      else rows.push({ left: line, right: line });
    }
  }
  flush();
  return rows;
}

const SIGN = { same: ' ', added: '+', removed: '−', hunk: '' } as const;
const SPOKEN = { same: 'unchanged', added: 'added', removed: 'removed', hunk: '' } as const;

export function DiffView(props: { diff: string; layout: 'unified' | 'split'; caption: string }) {
  const lines = useMemo(() => parseUnifiedDiff(props.diff), [props.diff]);
  if (lines.length === 0) return <p class="empty">No differences: the two documents are the same.</p>;
  const added = lines.filter((l) => l.kind === 'added').length;
  const removed = lines.filter((l) => l.kind === 'removed').length;
  const summary = (
    <p class="diff-summary">
      <span class="added-count">{added} added</span>, <span class="removed-count">{removed} removed</span>
    </p>
  );
  if (props.layout === 'unified') {
    return (
      <div class="diff-wrap">
        {summary}
        <table class="diff unified">
          <caption class="visually-hidden">{props.caption}</caption>
          <colgroup>
            <col class="num" />
            <col class="num" />
            <col class="sign" />
            <col />
          </colgroup>
          <thead class="visually-hidden">
            <tr>
              <th scope="col">Old line</th>
              <th scope="col">New line</th>
              <th scope="col">Change</th>
              <th scope="col">Text</th>
            </tr>
          </thead>
          <tbody>
            {lines.map((line, index) =>
              line.kind === 'hunk' ? (
                <tr class="hunk" key={index}>
                  <td colSpan={4}>{line.text}</td>
                </tr>
              ) : (
                <tr class={line.kind} key={index}>
                  <td class="num">{line.old ?? ''}</td>
                  <td class="num">{line.new ?? ''}</td>
                  <td class="sign">
                    <span aria-hidden="true">{SIGN[line.kind]}</span>
                    <span class="visually-hidden">{SPOKEN[line.kind]}</span>
                  </td>
                  <td class="code">{line.text}</td>
                </tr>
              ),
            )}
          </tbody>
        </table>
      </div>
    );
  }
  const rows = pairUp(lines);
  return (
    <div class="diff-wrap">
      {summary}
      <table class="diff split">
        <caption class="visually-hidden">{props.caption}</caption>
        <colgroup>
          <col class="num" />
          <col />
          <col class="num" />
          <col />
        </colgroup>
        <thead class="visually-hidden">
          <tr>
            <th scope="col">Old line</th>
            <th scope="col">Old text</th>
            <th scope="col">New line</th>
            <th scope="col">New text</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row, index) =>
            row.hunk ? (
              <tr class="hunk" key={index}>
                <td colSpan={4}>{row.hunk}</td>
              </tr>
            ) : (
              <tr key={index}>
                <td class={`num ${row.left?.kind ?? 'blank'}`}>{row.left?.old ?? ''}</td>
                <td class={`code ${row.left?.kind ?? 'blank'}`}>
                  {row.left && row.left.kind !== 'same' && <span class="visually-hidden">removed: </span>}
                  {row.left?.text ?? ''}
                </td>
                <td class={`num ${row.right?.kind ?? 'blank'}`}>{row.right?.new ?? ''}</td>
                <td class={`code ${row.right?.kind ?? 'blank'}`}>
                  {row.right && row.right.kind !== 'same' && <span class="visually-hidden">added: </span>}
                  {row.right?.text ?? ''}
                </td>
              </tr>
            ),
          )}
        </tbody>
      </table>
    </div>
  );
}
