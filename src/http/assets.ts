import fs from 'node:fs/promises';
import path from 'node:path';
import { Router } from '@koa/router';
import type { Config } from '../config.js';
import { viewsDir } from './render.js';
import { themeStylesheet } from './theme.js';

const types: Record<string, string> = { '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.js': 'text/javascript; charset=utf-8' };

/** The stylesheets and images the layout uses; read or made once, served from memory. */
export async function assetsRouter(theme: Config['theme']): Promise<Router> {
  const dir = path.join(viewsDir, 'assets');
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const name of await fs.readdir(dir)) {
    const type = types[path.extname(name)];
    if (type) files.set(name, { body: await fs.readFile(path.join(dir, name)), type });
  }
  files.set('theme.css', { body: Buffer.from(themeStylesheet(theme)), type: types['.css']! });
  const router = new Router();
  router.get('/assets/:name', (ctx) => {
    const file = files.get(ctx.params.name ?? '');
    if (!file) return;
    ctx.type = file.type;
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = file.body;
  });
  return router;
}
