import type { CaptionGenerationRequest } from '../../dto/caption-generation-request.dto.js';
import { charCount, emojiCount, stripEmoji, trimToWords } from '../text-analysis.js';
import { isInLanguage } from './language-check.js';

/** Between the caption text and its hashtags in the published post. */
export const HASHTAG_SEPARATOR = '\n\n';
/** Shortest caption text kept after a repair: shorter is no caption. */
export const MIN_CAPTION_CHARS = 12;

/** One variation as the model wrote it, after repair. */
export interface CheckedDraft {
  caption: string;
  hashtags: string[];
}

export type DraftCheck = { ok: true; draft: CheckedDraft } | { ok: false; problem: string };

/** Letters, digits and underscores, not only digits: an Instagram hashtag body. */
const TAG_BODY = /^(?=[\p{L}\p{N}_]*[\p{L}_])[\p{L}\p{N}_]{1,100}$/u;
/** `http(s)://…`, `www.…` and bare domains with a common top-level domain. */
const URL_LIKE = /\b(?:https?:\/\/\S+|www\.\S+|[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.(?:com|net|org|io|ly|co|me|app|shop|xyz|info|biz|link|site|online|store|gg|tv|us|uk|de|ru|cn)\b\S*)/giu;
const MENTION = /(?<![\p{L}\p{N}_.])@[\p{L}\p{N}_.]+/gu;
const INLINE_TAG = /(?<![\p{L}\p{N}_&])#[\p{L}\p{N}_]+/gu;

/** Everything the user wrote: URLs and mentions found there may appear in a caption. */
export function inputText(request: CaptionGenerationRequest): string {
  const brand = request.brand_info;
  return [request.content_description, brand?.name, brand?.voice, ...(brand?.keywords ?? [])].filter(Boolean).join('\n').toLowerCase();
}

/** URLs and @mentions of `text` that the input does not hold: a model led astray (or injected) adds them. */
export function foreignLinks(text: string, input: string): string[] {
  const found = [...(text.match(URL_LIKE) ?? []), ...(text.match(MENTION) ?? [])];
  return found.map((s) => s.replace(/[.,;:!?)]+$/, '')).filter((s) => !input.includes(s.toLowerCase()));
}

/** Published length: caption, blank line, hashtags joined by spaces (code points). */
export function postLength(caption: string, hashtags: string[]): number {
  return charCount(caption) + (hashtags.length > 0 ? HASHTAG_SEPARATOR.length + charCount(hashtags.join(' ')) : 0);
}

/**
 * Reads the model's reply: `{"variations": [{"caption", "hashtags"}…]}` (a bare array, or a code
 * fence around either, is accepted too, as small local models often answer so).
 * @returns the raw variations, or a problem naming what is wrong with the reply.
 */
export function parseReply(content: string): { variations: unknown[] } | { problem: string } {
  const text = content
    .trim()
    .replace(/^```(?:json)?\s*/i, '')
    .replace(/\s*```$/, '');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { problem: 'the reply is not valid JSON' };
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { variations?: unknown } | null)?.variations;
  if (!Array.isArray(list)) return { problem: 'the reply has no "variations" array' };
  return { variations: list };
}

/**
 * Checks one drafted variation against the request and repairs what can be repaired without
 * changing what it says: hashtags written inside the caption move to the list, `#` is added where
 * missing, repeats and blocked tags are dropped, extra tags are cut to `hashtag_count`, emojis are
 * removed when they are off, and a caption too long for `max_length` is cut at a word. What cannot
 * be repaired (too few usable tags, no emoji when asked, the wrong language, a URL or @mention
 * that is not in the input, an empty caption) is a problem: the variation is drafted again.
 */
export function checkDraft(raw: unknown, request: CaptionGenerationRequest, blocked: ReadonlySet<string>): DraftCheck {
  const item = raw as { caption?: unknown; hashtags?: unknown } | null;
  if (typeof item?.caption !== 'string') return { ok: false, problem: 'a variation has no caption string' };
  let caption = item.caption.replace(/\r\n?/g, '\n').trim();
  const listed = Array.isArray(item.hashtags) ? item.hashtags.filter((t): t is string => typeof t === 'string') : [];
  // Tags the model wrote into the text belong to the list; a trailing run of them is removed from the text.
  const inline = caption.match(INLINE_TAG) ?? [];
  caption = caption
    .replace(/(?:\s*(?<![\p{L}\p{N}_&])#[\p{L}\p{N}_]+)+\s*$/u, '')
    .replace(INLINE_TAG, (tag) => tag.slice(1))
    .trim();

  const foreign = foreignLinks(caption, inputText(request));
  if (foreign.length > 0) return { ok: false, problem: `a caption holds links or mentions that are not in the description (${foreign.length})` };
  if (!request.include_emojis) caption = stripEmoji(caption).replace(/[ \t]{2,}/g, ' ').trim();
  else if (emojiCount(caption) === 0) return { ok: false, problem: 'a caption has no emoji although emojis are on' };
  if (charCount(caption) < MIN_CAPTION_CHARS) return { ok: false, problem: 'a caption is empty or too short' };
  if (!isInLanguage(stripEmoji(caption), request.language)) return { ok: false, problem: `a caption is not written in ${request.language}` };

  let hashtags: string[] = [];
  if (request.include_hashtags) {
    const seen = new Set<string>();
    for (const tag of [...listed, ...inline]) {
      const body = tag.trim().replace(/^#+/, '');
      const key = `#${body.toLowerCase()}`;
      if (!TAG_BODY.test(body) || seen.has(key) || blocked.has(key)) continue;
      seen.add(key);
      hashtags.push(`#${body}`);
    }
    if (hashtags.length < request.hashtag_count) {
      return { ok: false, problem: `a variation has ${hashtags.length} usable hashtags, ${request.hashtag_count} are needed` };
    }
    hashtags = hashtags.slice(0, request.hashtag_count);
    if (foreignLinks(hashtags.join(' '), inputText(request)).length > 0) return { ok: false, problem: 'a hashtag holds a link' };
  }

  const room = request.max_length - (hashtags.length > 0 ? HASHTAG_SEPARATOR.length + charCount(hashtags.join(' ')) : 0);
  if (charCount(caption) > room) caption = cutTo(caption, room);
  if (charCount(caption) < MIN_CAPTION_CHARS) return { ok: false, problem: 'a caption does not fit max_length with its hashtags' };
  return { ok: true, draft: { caption, hashtags } };
}

/** At a word where the text has spaces; at a character in scripts written without them (Chinese, Japanese). */
function cutTo(text: string, max: number): string {
  const cut = trimToWords(text, max);
  return cut !== '' ? cut : [...text].slice(0, max).join('').trim();
}
