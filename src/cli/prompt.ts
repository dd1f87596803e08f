import { UsageError } from './output.js';

/**
 * Reads a password without echoing it. On a terminal the input is hidden; from a pipe the
 * first line is read, so scripts can pass one on stdin.
 */
export async function promptPassword(question: string): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) {
    const line = await readFirstLine(input);
    if (line === undefined) throw new UsageError('no password given: pass --password or type it when asked');
    return line;
  }
  // Echo goes off before the prompt shows, so nothing typed after it can appear on screen.
  input.setRawMode(true);
  process.stderr.write(question);
  input.resume();
  input.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let value = '';
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n' || char === '\u0004') {
          done();
          process.stderr.write('\n');
          resolve(value);
          return;
        }
        if (char === '\u0003') {
          done();
          process.stderr.write('\n');
          reject(new UsageError('cancelled'));
          return;
        }
        if (char === '\u007f' || char === '\b') value = value.slice(0, -1);
        else value += char;
      }
    };
    const done = () => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
    };
    input.on('data', onData);
  });
}

async function readFirstLine(stream: NodeJS.ReadStream): Promise<string | undefined> {
  let data = '';
  stream.setEncoding('utf8');
  for await (const chunk of stream) {
    data += chunk as string;
    const newline = data.indexOf('\n');
    if (newline !== -1) {
      stream.pause();
      return data.slice(0, newline).replace(/\r$/, '');
    }
  }
  return data.length > 0 ? data : undefined;
}
