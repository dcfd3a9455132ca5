import type { SyntaxNode, Tree } from '@lezer/common';

/** RFC 6901 pointer to its reference tokens: "" is the whole document, "/a~1b/0" is ["a/b", "0"]. */
export function decodePointer(pointer: string): string[] {
  if (pointer === '' || pointer === '#') return [];
  const body = pointer.startsWith('#') ? decodeURIComponent(pointer.slice(1)) : pointer;
  return body
    .slice(1)
    .split('/')
    .map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'));
}

export function encodePointer(tokens: readonly string[]): string {
  return tokens.map((token) => `/${token.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

const VALUE_NODES = new Set(['Object', 'Array', 'String', 'Number', 'True', 'False', 'Null']);

function valueOf(node: SyntaxNode | null): SyntaxNode | null {
  for (let child = node?.firstChild ?? null; child; child = child.nextSibling) {
    if (VALUE_NODES.has(child.name)) return child;
  }
  return null;
}

function keyOf(property: SyntaxNode, text: (from: number, to: number) => string): string | null {
  const name = property.getChild('PropertyName');
  if (!name) return null;
  try {
    return JSON.parse(text(name.from, name.to)) as string;
  } catch {
    return null;
  }
}

/**
 * Where the value at `pointer` is written: its property (key and value) when it is an object's member,
 * else the value; as deep as the document goes when part of the pointer is missing (a required key, say).
 */
export function rangeOfPointer(
  tree: Tree,
  text: (from: number, to: number) => string,
  pointer: string,
): { from: number; to: number } {
  let node = valueOf(tree.topNode);
  let range = node ? { from: node.from, to: node.to } : { from: 0, to: 0 };
  for (const token of decodePointer(pointer)) {
    if (!node) break;
    let next: SyntaxNode | null = null;
    if (node.name === 'Object') {
      for (const property of node.getChildren('Property')) {
        if (keyOf(property, text) === token) {
          next = valueOf(property);
          range = { from: property.from, to: property.to };
        }
      }
    } else if (node.name === 'Array' && /^\d+$/.test(token)) {
      let index = 0;
      for (let child = node.firstChild; child; child = child.nextSibling) {
        if (!VALUE_NODES.has(child.name)) continue;
        if (index++ === Number(token)) {
          next = child;
          range = { from: child.from, to: child.to };
          break;
        }
      }
    }
    if (!next) break;
    node = next;
  }
  return range;
}

/** Where the caret is in the document: the keys and indexes down to it, and whether it is on a key. */
export interface Place {
  path: string[];
  /** The object the caret is in when it is writing a key of it (or between its members). */
  onKey: boolean;
  /** The keys the enclosing object already has. */
  siblings: string[];
}

export function placeAt(tree: Tree, text: (from: number, to: number) => string, pos: number): Place | null {
  const inner = tree.resolveInner(pos, -1);
  let onKey = inner.name === 'PropertyName';
  let node: SyntaxNode | null = inner;
  if (onKey) {
    node = inner.parent?.parent ?? null;
  } else {
    while (node && node.name !== 'Object' && node.name !== 'Array' && node.name !== 'Property')
      node = node.parent;
    // Between an object's members: the caret writes a new key.
    if (node?.name === 'Object') onKey = true;
    // Before a property's colon: still its key.
    if (node?.name === 'Property') {
      const value = valueOf(node);
      const name = node.getChild('PropertyName');
      if (name && pos <= name.to && (!value || pos < value.from)) {
        onKey = true;
        node = node.parent;
      }
    }
  }
  if (!node) return null;
  const path: string[] = [];
  let child: SyntaxNode | null = null;
  for (let walk: SyntaxNode | null = node; walk; child = walk, walk = walk.parent) {
    if (walk.name === 'Property') {
      const key = keyOf(walk, text);
      if (key === null) return null;
      path.unshift(key);
    } else if (walk.name === 'Array' && child) {
      let index = 0;
      for (let item = walk.firstChild; item && item.from < child.from; item = item.nextSibling) {
        if (VALUE_NODES.has(item.name)) index++;
      }
      path.unshift(String(index));
    }
  }
  const siblings =
    onKey && node.name === 'Object'
      ? node.getChildren('Property').flatMap((property) => keyOf(property, text) ?? [])
      : [];
  return { path, onKey, siblings };
}
