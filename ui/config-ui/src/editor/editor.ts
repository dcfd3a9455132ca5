import {
  autocompletion,
  closeBrackets,
  closeBracketsKeymap,
  completionKeymap,
} from '@codemirror/autocomplete';
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { json } from '@codemirror/lang-json';
import {
  bracketMatching,
  defaultHighlightStyle,
  foldGutter,
  indentOnInput,
  syntaxHighlighting,
  syntaxTree,
} from '@codemirror/language';
import { type Diagnostic, forceLinting, linter, lintGutter } from '@codemirror/lint';
import { highlightSelectionMatches, searchKeymap } from '@codemirror/search';
import { EditorState, type Extension } from '@codemirror/state';
import {
  drawSelection,
  EditorView,
  highlightActiveLine,
  highlightActiveLineGutter,
  keymap,
  lineNumbers,
} from '@codemirror/view';
import type { FieldProblem } from '../api.js';
import { keyCompletion } from './complete.js';
import { descriptionTooltip, type KeyHelp, keyHelpAt } from './hover.js';
import { rangeOfPointer } from './pointer.js';
import type { Schema } from './schema.js';
import { schemaProblems, validatorFor } from './validate.js';

export interface Located extends FieldProblem {
  line: number;
  from: number;
  to: number;
  /** Where it was found: in this page as you type, or by the server on save. */
  source: 'syntax' | 'schema' | 'server';
}

export interface JsonEditor {
  view: EditorView;
  /** Shows the server's problems (a 422's pointers) at their lines until the document changes. */
  showServerProblems(problems: FieldProblem[]): void;
  /** Moves the caret to a problem and focuses the editor. */
  reveal(problem: Located): void;
  destroy(): void;
}

function syntaxProblem(view: EditorView, error: unknown): Located | null {
  if (!(error instanceof SyntaxError)) return null;
  const doc = view.state.doc;
  const at = /position (\d+)/.exec(error.message)?.[1];
  const lineCol = /line (\d+) column (\d+)/.exec(error.message);
  let pos = doc.length;
  if (at !== undefined) pos = Math.min(Number(at), doc.length);
  else if (lineCol)
    pos = Math.min(
      doc.line(Math.min(Number(lineCol[1]), doc.lines)).from + Number(lineCol[2]) - 1,
      doc.length,
    );
  const line = doc.lineAt(pos);
  return {
    pointer: '',
    message: `not valid JSON: ${error.message.replace(/ in JSON at position \d+.*$/, '').replace(/^JSON\.parse: /, '')}`,
    line: line.number,
    from: pos,
    to: Math.min(pos + 1, line.to),
    source: 'syntax',
  };
}

/** Where a pointer's value is written, with the line it starts on; only its first line is marked. */
function locate(view: EditorView, problem: FieldProblem, source: Located['source']): Located {
  const { state } = view;
  const range = rangeOfPointer(syntaxTree(state), (from, to) => state.sliceDoc(from, to), problem.pointer);
  const line = state.doc.lineAt(range.from);
  return {
    ...problem,
    line: line.number,
    from: range.from,
    to: Math.max(range.from + 1, Math.min(range.to, line.to)),
    source,
  };
}

/**
 * A JSON editor for the endpoint configuration: problems from JSON itself, from the served schema (as you
 * type) and from the server (after a save) at their lines; keys completed and described from the schema.
 * It lives in a shadow root: CodeMirror's styles then go in as constructed style sheets, which the page's
 * Content-Security-Policy (no inline style) does not have to allow.
 */
export function createJsonEditor(options: {
  host: HTMLElement;
  doc: string;
  schema: Schema;
  label: string;
  readOnly?: boolean;
  onChange?: (text: string) => void;
  onProblems?: (problems: Located[]) => void;
  /** The description of the key at the caret, for those who do not use a mouse. */
  onKeyHelp?: (help: KeyHelp | null) => void;
}): JsonEditor {
  const { schema } = options;
  const validator = validatorFor(schema);
  let serverProblems: FieldProblem[] = [];
  const shadow = options.host.shadowRoot ?? options.host.attachShadow({ mode: 'open' });

  const problemsOf = (view: EditorView): Located[] => {
    const text = view.state.doc.toString();
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      const problem = syntaxProblem(view, error);
      return problem ? [problem] : [];
    }
    return [
      ...schemaProblems(schema, validator, value).map((p) => locate(view, p, 'schema')),
      ...serverProblems.map((p) => locate(view, p, 'server')),
    ].sort((a, b) => a.from - b.from);
  };

  const lint = linter(
    (view): Diagnostic[] => {
      const problems = problemsOf(view);
      options.onProblems?.(problems);
      return problems.map((p) => ({
        from: p.from,
        to: p.to,
        severity: 'error',
        source: p.source === 'server' ? 'server' : undefined,
        message: p.pointer ? `${p.pointer}: ${p.message}` : p.message,
      }));
    },
    { delay: 250 },
  );

  const extensions: Extension[] = [
    lineNumbers(),
    highlightActiveLineGutter(),
    foldGutter(),
    history(),
    drawSelection(),
    indentOnInput(),
    bracketMatching(),
    closeBrackets(),
    highlightActiveLine(),
    highlightSelectionMatches(),
    syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
    json(),
    lint,
    lintGutter(),
    autocompletion({ override: [keyCompletion(schema)] }),
    descriptionTooltip(schema),
    keymap.of([
      ...closeBracketsKeymap,
      ...defaultKeymap,
      ...searchKeymap,
      ...historyKeymap,
      ...completionKeymap,
    ]),
    // Focusable even when read only, so the keyboard can scroll it too.
    EditorView.contentAttributes.of({ 'aria-label': options.label, tabindex: '0' }),
    EditorState.readOnly.of(options.readOnly ?? false),
    EditorView.editable.of(!(options.readOnly ?? false)),
    EditorView.updateListener.of((update) => {
      if (options.onKeyHelp && (update.selectionSet || update.docChanged)) {
        options.onKeyHelp(keyHelpAt(schema, update.state, update.state.selection.main.head, -1));
      }
      if (!update.docChanged) return;
      serverProblems = [];
      options.onChange?.(update.state.doc.toString());
    }),
    editorTheme,
  ];

  const view = new EditorView({ doc: options.doc, extensions, parent: shadow, root: shadow });
  return {
    view,
    showServerProblems(problems) {
      serverProblems = problems;
      forceLinting(view);
    },
    reveal(problem) {
      view.dispatch({ selection: { anchor: problem.from }, scrollIntoView: true });
      view.focus();
    },
    destroy: () => view.destroy(),
  };
}

const editorTheme = EditorView.theme({
  '&': {
    fontSize: '13px',
    height: '100%',
    minHeight: '18rem',
    border: '1px solid #8a94a6',
    borderRadius: '4px',
    backgroundColor: '#ffffff',
    color: '#111827',
  },
  '&.cm-focused': { outline: '2px solid #1d4ed8', outlineOffset: '1px' },
  '.cm-scroller': {
    fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace',
    lineHeight: '1.5',
  },
  '.cm-gutters': { backgroundColor: '#f3f4f6', color: '#374151', borderRight: '1px solid #d1d5db' },
  '.cm-activeLine': { backgroundColor: '#eef2ff' },
  '.cm-activeLineGutter': { backgroundColor: '#e0e7ff' },
  '.cm-tooltip': { maxWidth: '32rem', fontFamily: 'system-ui, sans-serif' },
  '.cm-tooltip.cm-description': { padding: '6px 8px', lineHeight: '1.4' },
  '.cm-description-type': { color: '#374151', fontStyle: 'italic' },
});
