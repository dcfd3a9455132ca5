import { createTwoFilesPatch } from 'diff';
import type { PatchJob } from './diff-thread.js';
import {
  type DraftForm,
  diffJson,
  maskedDiff,
  maskedDraftText,
  maskedStoredText,
  readDraft,
  type StoredSide,
} from './draft.js';
import type { EndpointConfig } from './schema.js';
import type { ConfigProblem } from './validate.js';

/**
 * What the diff thread does with each message (diff-thread.ts sends them, one at a time, in order). A
 * draft that was read stays here, under the id of the message that read it, until it is compared or
 * dropped: it is never parsed twice, and never crosses back to the event loop.
 */

/** How a diff comes back: as text, or as a JSON string in UTF-8 that an answer carries as it is. */
export type DiffForm = 'text' | 'json';

export type ThreadMessage =
  | { kind: 'patch'; job: PatchJob }
  | { kind: 'read-draft'; text: string; form: DraftForm }
  | { kind: 'diff-draft'; draft: number; base: StoredSide | undefined; as: DiffForm }
  | { kind: 'drop-draft'; draft: number }
  | { kind: 'diff-stored'; before: StoredSide | undefined; after: StoredSide; as: DiffForm };

export type ThreadResult =
  | { patch: string | null }
  | { malformed: string }
  | { problems: ConfigProblem[] }
  | { draft: number; baseVersion: string | undefined }
  | { diff: string }
  | { json: Uint8Array }
  | { dropped: true };

const drafts = new Map<number, EndpointConfig>();

function diffAs(diff: string, as: DiffForm): { result: ThreadResult; transfer: ArrayBuffer[] } {
  if (as === 'text') return { result: { diff }, transfer: [] };
  const json = diffJson(diff);
  return { result: { json }, transfer: [json.buffer as ArrayBuffer] };
}

/** The answer to one message, and the buffers it hands over rather than copies. */
export function work(id: number, message: ThreadMessage): { result: ThreadResult; transfer: ArrayBuffer[] } {
  switch (message.kind) {
    case 'patch': {
      const { oldLabel, newLabel, oldText, newText, options } = message.job;
      const patch = createTwoFilesPatch(oldLabel, newLabel, oldText, newText, undefined, undefined, options);
      return { result: { patch: patch ?? null }, transfer: [] };
    }
    case 'read-draft': {
      const reading = readDraft(message.text, message.form);
      if (reading.kind === 'malformed') return { result: { malformed: reading.message }, transfer: [] };
      if (reading.kind === 'invalid') return { result: { problems: reading.problems }, transfer: [] };
      drafts.set(id, reading.draft);
      return { result: { draft: id, baseVersion: reading.baseVersion }, transfer: [] };
    }
    case 'diff-draft': {
      const draft = drafts.get(message.draft);
      if (!draft) throw new Error(`no draft ${message.draft} on the diff thread`);
      drafts.delete(message.draft);
      return diffAs(maskedDiff(message.base, { label: 'draft', text: maskedDraftText(draft) }), message.as);
    }
    case 'drop-draft':
      drafts.delete(message.draft);
      return { result: { dropped: true }, transfer: [] };
    case 'diff-stored': {
      const { after } = message;
      return diffAs(
        maskedDiff(message.before, { label: after.label, text: maskedStoredText(after) }),
        message.as,
      );
    }
  }
}
