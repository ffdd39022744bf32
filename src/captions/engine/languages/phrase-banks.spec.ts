import { describe, expect, it } from 'vitest';
import { toHashtag } from '../hashtag-picker.js';
import type { PhraseBank } from '../phrase-bank.js';
import { sentenceProblems } from '../sentence-check.js';
import { OFFLINE_BANKS } from './offline-banks.js';

const BANKS = Object.entries(OFFLINE_BANKS).map(([language, bank]): [string, PhraseBank] => [language, bank]);
const EMOJI = /\p{Extended_Pictographic}/u;

/** A description per language whose first noun phrase fills the bank's slots. */
const SAMPLE: Record<string, string> = {
  english: 'Golden pancakes at the harbor with friends',
  spanish: 'Tortitas de fresa en el puerto con amigos',
  french: 'Crêpes au chocolat sur le port avec des amis',
  german: 'Frische Pfannkuchen im Hafen mit Freunden',
  italian: 'Frittelle alla fragola al porto con gli amici',
  portuguese: 'Panquecas de morango no porto com os amigos',
};

/** Every line a style can write, its slots filled with the sample's phrases and each of the style's words. */
function lines(bank: PhraseBank, language: string): string[] {
  const parsed = bank.parse(SAMPLE[language]!);
  const [first, second] = parsed.phrases;
  const fill = (template: string, word: (slot: string) => string) =>
    template.replace(/\{(\w+)\}/g, (_, slot: string) => {
      const key = slot[0]!.toLowerCase() + slot.slice(1);
      const value =
        key === 'e' ? '' : key === 'subject' ? first!.text : key === 'theSubject' ? first!.determined : key === 'scene' ? parsed.scene! : key === 'term' ? second!.determined : key === 'brand' ? 'Lumen' : key === 'voice' ? 'bold' : word(key);
      return slot[0] === slot[0]!.toUpperCase() ? value[0]!.toUpperCase() + value.slice(1) : value;
    });
  const out: string[] = [];
  for (const style of Object.values(bank.styles)) {
    const templates = [...style.structures.flat(), ...style.termLines, ...style.brandLines, ...style.ctas];
    for (const template of templates) {
      const slots = [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!.toLowerCase()).filter((s) => style.words[s]);
      if (slots.length === 0) out.push(fill(template, () => ''));
      for (const slot of slots) for (const w of style.words[slot]!) out.push(fill(template, (k) => (k === slot ? w : style.words[k]![0]!)));
    }
  }
  return out;
}

describe('phrase banks', () => {
  it.each(BANKS)('%s: every line, slots filled, reads as a whole sentence', (language, bank) => {
    const broken = lines(bank, language).flatMap((line) => sentenceProblems(line, bank).map((p) => `${p.problem}: ${line}`));
    expect(broken).toEqual([]);
  });

  it.each(BANKS)('%s: holds no emoji, enough short tags and short CTAs, and ten structures a style', (_language, bank) => {
    expect(JSON.stringify({ ...bank.styles, emojis: undefined }).replace(/"emojis":\[[^\]]*\]/g, '')).not.toMatch(EMOJI);
    const short = new Set(bank.shortTags.map((t) => toHashtag(t)));
    expect(short.size).toBeGreaterThanOrEqual(40);
    for (const tag of bank.shortTags) expect([...tag].length).toBeLessThanOrEqual(6);
    for (const cta of bank.shortCtas) expect([...cta].length).toBeLessThanOrEqual(9);
    for (const style of Object.values(bank.styles)) expect(style.structures).toHaveLength(10);
  });

  it('puts a bare noun phrase only where it reads as a label in French and German (no article is guessed for them)', () => {
    for (const bank of [OFFLINE_BANKS.french!, OFFLINE_BANKS.german!]) {
      expect(JSON.stringify(bank.styles)).not.toContain('{theSubject}');
    }
  });
});
