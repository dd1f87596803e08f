import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import axe, { type AxeResults, type Result } from 'axe-core';
import type { Page } from 'playwright-core';

export const axeDir = fileURLToPath(new URL('../output/axe/', import.meta.url));

/** What a reader needs to find and fix each violation: rule, impact, help, and each element. */
export function formatViolations(violations: Result[]): string {
  return violations
    .map((violation) => {
      const nodes = violation.nodes.map((node) => {
        const summary = (node.failureSummary ?? '').split('\n').slice(1).map((line) => line.trim()).filter(Boolean).join(' ');
        return `    - ${node.target.map(String).join(' >>> ')}\n      ${node.html.slice(0, 200)}${summary ? `\n      ${summary}` : ''}`;
      });
      return `  ${violation.id} (${violation.impact}): ${violation.help}\n    ${violation.helpUrl}\n${nodes.join('\n')}`;
    })
    .join('\n');
}

/**
 * Runs axe-core on the page as it is now and answers what should fail the test: a report of
 * the serious and critical violations, or nothing. The rest are logged. The page's context must
 * be created with `bypassCSP: true`: the server's CSP (rightly) refuses the injected script
 * otherwise.
 */
export async function auditPage(t: ExecutionContext, page: Page, name: string): Promise<string | undefined> {
  await page.addScriptTag({ content: axe.source });
  // A string, not a function: the axe global exists only in the page.
  const results = (await page.evaluate(`axe.run(document, { resultTypes: ['violations'] })`)) as AxeResults;
  await fs.mkdir(axeDir, { recursive: true });
  await fs.writeFile(path.join(axeDir, `${name}.json`), JSON.stringify({ url: page.url(), violations: results.violations }, null, 2));
  const blocking = results.violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
  const minor = results.violations.filter((violation) => !blocking.includes(violation));
  if (minor.length > 0) t.log(`${name}: moderate or minor accessibility findings (not failing):\n${formatViolations(minor)}`);
  return blocking.length > 0 ? `${name} (${page.url()}):\n${formatViolations(blocking)}` : undefined;
}

/** Fails with every page's report at once, so one run lists everything to fix. */
export function assertNoBlockingViolations(t: ExecutionContext, reports: string[]): void {
  if (reports.length > 0) t.fail(`serious or critical accessibility violations:\n\n${reports.join('\n\n')}`);
  else t.pass();
}
