import type { Language } from '../../dto/caption-options.js';
import type { PhraseBank } from '../phrase-bank.js';
import { ENGLISH } from './english-bank.js';
import { FRENCH } from './french-bank.js';
import { GERMAN } from './german-bank.js';
import { ITALIAN } from './italian-bank.js';
import { PORTUGUESE } from './portuguese-bank.js';
import { SPANISH } from './spanish-bank.js';

/** The languages the offline engine writes, each with its own bank; the others are refused by it. */
export const OFFLINE_BANKS: Partial<Record<Language, PhraseBank>> = {
  english: ENGLISH,
  spanish: SPANISH,
  french: FRENCH,
  german: GERMAN,
  italian: ITALIAN,
  portuguese: PORTUGUESE,
};
