import { useEffect, useState } from 'preact/hooks';
import { get, messageOf } from '../api.js';
import { DiffView } from '../components/diff-view.js';
import { Notice } from '../components/notice.js';
import type { VersionRow } from '../config-api.js';
import { navigate } from '../router.js';
import { LayoutChoice } from './edit.js';
import { useVersionList } from './versions.js';

function VersionSelect(props: {
  id: string;
  label: string;
  value: string;
  options: VersionRow[];
  onChange: (version: string) => void;
}) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <select id={props.id} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
        {props.options.map((v) => (
          <option key={v.version} value={v.version}>
            {v.version}
            {v.active ? ' (active)' : ''}
          </option>
        ))}
      </select>
    </div>
  );
}

export function DiffScreen(props: { from: string | null; to: string | null }) {
  const { list } = useVersionList();
  const [from, setFrom] = useState(props.from ?? '');
  const [to, setTo] = useState(props.to ?? '');
  const [diff, setDiff] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [layout, setLayout] = useState<'unified' | 'split'>('split');

  useEffect(() => {
    document.title = 'Diff · Switchboard';
  }, []);

  // The pair in the address is the one shown, so a diff can be bookmarked and sent.
  useEffect(() => {
    setFrom(props.from ?? list?.active ?? '');
    setTo(props.to ?? list?.active ?? '');
  }, [props.from, props.to, list?.active]);

  useEffect(() => {
    if (props.from === null && props.to === null) return;
    setDiff(null);
    setFailure(null);
    const query = new URLSearchParams();
    if (props.from) query.set('from', props.from);
    if (props.to) query.set('to', props.to);
    get<{ diff: string }>(`/api/v1/config/diff?${query}`).then(
      (answer) => setDiff(answer.data.diff),
      (error) => setFailure(messageOf(error)),
    );
  }, [props.from, props.to]);

  const choose = (event: Event) => {
    event.preventDefault();
    navigate('diff', { from: from || undefined, to: to || undefined });
  };

  const options = list?.versions ?? [];
  return (
    <section aria-labelledby="diff-title">
      <h1 id="diff-title">Compare versions</h1>
      <form class="diff-pick" onSubmit={choose}>
        <VersionSelect id="diff-from" label="From" value={from} options={options} onChange={setFrom} />
        <VersionSelect id="diff-to" label="To" value={to} options={options} onChange={setTo} />
        <button type="submit" class="primary">
          Compare
        </button>
        <LayoutChoice layout={layout} onChange={setLayout} />
      </form>
      {failure && <Notice kind="error">{failure}</Notice>}
      {diff !== null && (
        <DiffView
          diff={diff}
          layout={layout}
          caption={`Changes from ${props.from ?? 'active'} to ${props.to ?? 'active'}`}
        />
      )}
    </section>
  );
}
