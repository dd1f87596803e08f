import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ejs from 'ejs';

export const viewsDir = fileURLToPath(new URL('../../views/', import.meta.url));

export interface Page {
  title: string;
  /** BCP 47 tag for <html lang>; from ui_locales when the request gave one we have. */
  lang?: string;
}

/** Renders a view inside the one layout. Every value is escaped by the templates (`<%=`). */
export async function renderPage(view: string, page: Page, locals: Record<string, unknown>): Promise<string> {
  // Templates ship with the release: compile each once per process.
  const body = await ejs.renderFile(path.join(viewsDir, `${view}.ejs`), locals, { cache: true });
  return ejs.renderFile(path.join(viewsDir, 'layout.ejs'), { title: page.title, lang: page.lang ?? 'en', body }, { cache: true });
}
