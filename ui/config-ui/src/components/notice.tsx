import type { ComponentChildren } from 'preact';

/** A message the screen reader reads as it appears: errors interrupt, the rest waits its turn. */
export function Notice(props: {
  kind: 'error' | 'info' | 'success';
  children: ComponentChildren;
  id?: string;
}) {
  return (
    <div
      id={props.id}
      class={`notice notice-${props.kind}`}
      role={props.kind === 'error' ? 'alert' : 'status'}
    >
      {props.children}
    </div>
  );
}
