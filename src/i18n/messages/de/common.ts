import type { common as english } from '../en/common.js';

export const common: Record<keyof typeof english, string> = {
  'layout.title': '{page} · {product}',
  'layout.title_in_section': '{page} · {section} · {product}',
  'layout.skip_to_content': 'Zum Inhalt springen',
  'layout.secured_by': 'Geschützt durch {product}',
  'layout.language': 'Sprache',
  'common.cancel': 'Abbrechen',
  'common.sign_out': 'Abmelden',
  'common.the_application': 'die Anwendung',
};
