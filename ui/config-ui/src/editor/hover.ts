import { syntaxTree } from '@codemirror/language';
import type { EditorState, Extension } from '@codemirror/state';
import { hoverTooltip } from '@codemirror/view';
import { placeAt } from './pointer.js';
import { alternatives, describe, type Schema, schemasAt, typeOf } from './schema.js';

export interface KeyHelp {
  key: string;
  type: string | null;
  text: string;
  from: number;
  to: number;
}

/** The schema's title, type and description of the key written at `pos`, if a key is there. */
export function keyHelpAt(schema: Schema, state: EditorState, pos: number, side: -1 | 1): KeyHelp | null {
  const tree = syntaxTree(state);
  let node = tree.resolveInner(pos, side);
  if (node.name === 'Property') node = node.getChild('PropertyName') ?? node;
  if (node.name !== 'PropertyName') return null;
  const place = placeAt(tree, (from, to) => state.sliceDoc(from, to), node.to);
  if (!place) return null;
  let key: string;
  try {
    key = JSON.parse(state.sliceDoc(node.from, node.to)) as string;
  } catch {
    return null;
  }
  const schemas = schemasAt(schema, [...place.path, key]).flatMap((s) => alternatives(schema, s));
  const text = describe(schemas);
  const type = typeOf(schemas);
  if (!text && !type) return null;
  return { key, type, text, from: node.from, to: node.to };
}

/** The description of the key under the mouse pointer. */
export function descriptionTooltip(schema: Schema): Extension {
  return hoverTooltip((view, pos, side) => {
    const help = keyHelpAt(schema, view.state, pos, side);
    if (!help) return null;
    return {
      pos: help.from,
      end: help.to,
      above: true,
      create() {
        const dom = document.createElement('div');
        dom.className = 'cm-description';
        const title = document.createElement('strong');
        title.textContent = help.key;
        dom.append(title);
        if (help.type) {
          const kind = document.createElement('span');
          kind.className = 'cm-description-type';
          kind.textContent = ` (${help.type})`;
          dom.append(kind);
        }
        if (help.text) {
          const body = document.createElement('div');
          body.textContent = help.text;
          dom.append(body);
        }
        return { dom };
      },
    };
  });
}
