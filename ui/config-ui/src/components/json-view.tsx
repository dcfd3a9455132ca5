import { useEffect, useRef } from 'preact/hooks';
import { createJsonEditor } from '../editor/editor.js';
import type { Schema } from '../editor/schema.js';

/** A saved document, read only, with the schema's descriptions on hover. */
export function JsonView(props: { text: string; schema: Schema; label: string }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!host.current) return;
    const editor = createJsonEditor({
      host: host.current,
      doc: props.text,
      schema: props.schema,
      label: props.label,
      readOnly: true,
    });
    return () => editor.destroy();
  }, [props.text, props.schema, props.label]);
  return <div class="editor-host readonly" ref={host} />;
}
