import type { Locale } from '../locales.js';
import { account as deAccount } from './de/account.js';
import { admin as deAdmin } from './de/admin.js';
import { common as deCommon } from './de/common.js';
import { errors as deErrors } from './de/errors.js';
import { federation as deFederation } from './de/federation.js';
import { interactions as deInteractions } from './de/interactions.js';
import { selfService as deSelfService } from './de/self-service.js';
import { account } from './en/account.js';
import { admin } from './en/admin.js';
import { common } from './en/common.js';
import { errors } from './en/errors.js';
import { federation } from './en/federation.js';
import { interactions } from './en/interactions.js';
import { selfService } from './en/self-service.js';

// One file per area and language, so each area's strings are kept together; keys are unique
// across areas (the area is their first word). `domain.*` keys are messages domain code writes
// in English (errors, field problems), matched by Translate.message.
const en = { ...common, ...interactions, ...errors, ...selfService, ...account, ...admin, ...federation };

export type MessageKey = keyof typeof en;
export type Messages = Record<MessageKey, string>;

const de: Messages = { ...deCommon, ...deInteractions, ...deErrors, ...deSelfService, ...deAccount, ...deAdmin, ...deFederation };

/** Every language's table; the pseudo-locale is made from English. */
export const catalogs: Record<Exclude<Locale, 'en-XA'>, Messages> = { en, de };

/** Each area's tables, so a test can tell which area lost a key. */
export const areas = {
  common: { en: common, de: deCommon },
  interactions: { en: interactions, de: deInteractions },
  errors: { en: errors, de: deErrors },
  selfService: { en: selfService, de: deSelfService },
  account: { en: account, de: deAccount },
  admin: { en: admin, de: deAdmin },
  federation: { en: federation, de: deFederation },
};
