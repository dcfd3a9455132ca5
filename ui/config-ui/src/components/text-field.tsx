/** A labelled, required text input: the label names it for assistive technology and for tests alike. */
export function TextField(props: {
  id: string;
  label: string;
  value: string;
  onInput: (value: string) => void;
  type?: 'text' | 'password';
  autocomplete: string;
  describedBy?: string;
}) {
  const common = {
    id: props.id,
    name: props.id,
    autocomplete: props.autocomplete,
    required: true,
    'aria-describedby': props.describedBy,
    value: props.value,
    onInput: (e: { currentTarget: HTMLInputElement }) => props.onInput(e.currentTarget.value),
  };
  return (
    <>
      <label for={props.id}>{props.label}</label>
      {props.type === 'password' ? <input type="password" {...common} /> : <input type="text" {...common} />}
    </>
  );
}
