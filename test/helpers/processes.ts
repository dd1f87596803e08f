import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, testEnv } from './server.js';

/** The repository root: where `bin/latchkey.js` and `src/` are. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** What a child process needs of this one's environment to run at all, and nothing else. */
export function inheritedEnv(): Record<string, string> {
  const inherited: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG']) {
    const value = process.env[name];
    if (value !== undefined) inherited[name] = value;
  }
  return inherited;
}

/**
 * What a spawned Latchkey sees: only what a user would set, so nothing from the test process
 * (such as the admin DATABASE_URL) leaks in and points it at the wrong database.
 */
export function processEnv(env: Record<string, string>): Record<string, string> {
  return { ...inheritedEnv(), ...testEnv, LATCHKEY_ENV: 'test', ...env };
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CliResult extends Exit {
  stdout: string;
  stderr: string;
}

function exitOf(child: ChildProcess): Promise<Exit> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
}

/** Everything a child has written so far, stdout and stderr apart. */
function collectOutput(child: { stdout: NodeJS.ReadableStream | null; stderr: NodeJS.ReadableStream | null }) {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return () => ({ stdout, stderr });
}

/** Runs `node bin/latchkey.js ...args` as a user would, optionally typing `input` on a piped stdin. */
export async function runCli(args: string[], env: Record<string, string>, options: { input?: string } = {}): Promise<CliResult> {
  const child = spawn(process.execPath, ['bin/latchkey.js', ...args], { cwd: repoRoot, env: processEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
  const output = collectOutput(child);
  child.stdin.end(options.input ?? '');
  const exit = await exitOf(child);
  return { ...exit, ...output() };
}

/** The non-empty lines of a stream's output. */
export function lines(output: string): string[] {
  return output.split(/\r?\n/).filter((line) => line.trim() !== '');
}

export interface ServerProcess {
  readonly issuer: string;
  readonly port: number;
  readonly pid: number;
  readonly exited: Promise<Exit>;
  output(): { stdout: string; stderr: string };
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<Exit>;
  /** SIGKILL, then waits for the exit. */
  kill(): Promise<Exit>;
}

/** Spawns `latchkey serve [...args]` without waiting for it to listen. */
export function spawnServer(env: Record<string, string>, port: number, args: string[] = []): ServerProcess {
  const issuer = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'serve', ...args], {
    cwd: repoRoot,
    env: processEnv({ PORT: String(port), ISSUER: issuer, ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = collectOutput(child);
  const exited = exitOf(child);
  const signal = (name: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(name);
    return exited;
  };
  return {
    issuer,
    port,
    pid: child.pid!,
    exited,
    output,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
  };
}

/** Resolves once discovery answers; rejects with the server's output if it exits first. */
export async function waitUntilServing(server: ServerProcess, timeoutMs = 60_000): Promise<void> {
  let exit: Exit | undefined;
  void server.exited.then((value) => {
    exit = value;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exit) {
      const { stderr } = server.output();
      throw new Error(`the server exited (code ${exit.code}, signal ${exit.signal}) before serving:\n${stderr}`);
    }
    try {
      const response = await fetch(`${server.issuer}/.well-known/openid-configuration`);
      if (response.ok) {
        await response.body?.cancel();
        return;
      }
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the server on ${server.issuer} did not answer within ${timeoutMs} ms:\n${server.output().stderr}`);
}

/** Spawns `latchkey serve` on a free port and waits until it answers. */
export async function startServerProcess(env: Record<string, string>, port?: number): Promise<ServerProcess> {
  const server = spawnServer(env, port ?? (await freePort()));
  try {
    await waitUntilServing(server);
  } catch (error) {
    await server.kill();
    throw error;
  }
  return server;
}
