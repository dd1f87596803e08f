import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inheritedEnv } from '../test/helpers/processes.js';
export { freePort } from '../test/helpers/server.js';

export const repoRoot = fileURLToPath(new URL('../', import.meta.url));

export interface Child {
  readonly pid: number;
  readonly process: ChildProcess;
  /** Sends one message and resolves with the child's next one. */
  ask<T>(message: unknown): Promise<T>;
  stop(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

/**
 * An entry point of ours in a process of its own (TypeScript through tsx, unless `compiled`), its output in `logFile`.
 * `ipc` opens the channel run.ts talks to the baseline and the load generator over.
 */
export function startNode(entry: string[], options: { env: Record<string, string>; logFile: string; ipc?: boolean; compiled?: boolean }): Child {
  const log = openSync(options.logFile, 'a');
  const child = spawn(process.execPath, [...(options.compiled ? [] : ['--import', 'tsx']), ...entry], {
    cwd: repoRoot,
    env: { ...inheritedEnv(), ...options.env },
    stdio: ['ignore', log, log, ...(options.ipc ? (['ipc'] as const) : [])],
    ...(options.ipc ? { serialization: 'advanced' as const } : {}),
  });
  const done = exited(child);
  return {
    pid: child.pid!,
    process: child,
    ask<T>(message: unknown) {
      return new Promise<T>((resolve, reject) => {
        const onExit = () => reject(new Error(`${entry.join(' ')} exited; see ${options.logFile}`));
        child.once('exit', onExit);
        child.once('message', (reply) => {
          child.off('exit', onExit);
          resolve(reply as T);
        });
        child.send(message as never);
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await done;
      clearTimeout(timer);
    },
  };
}

/** Compiles the server as `npm start` does before it runs it (`npm run build`). */
export function buildServer(): void {
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** `latchkey serve [...args]` as `npm start` runs it: the build of buildServer(). */
export function startLatchkey(env: Record<string, string>, args: string[], logDir: string, name: string): Child {
  return startNode(['dist/src/cli/index.js', 'serve', ...args], { env, logFile: join(logDir, `${name}.log`), compiled: true });
}

export async function waitForDiscovery(origin: string, child: Child, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null) throw new Error(`the process for ${origin} exited with ${child.process.exitCode}`);
    try {
      const response = await fetch(`${origin}/.well-known/openid-configuration`);
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${origin} did not answer within ${timeoutMs} ms`);
}
