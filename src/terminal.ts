/**
 * @module
 * Input from the person at the keyboard, shared by the command line and the client script: a
 * secret read from a hidden prompt on a terminal, else from the first line of stdin (never from
 * the command line, where other users can see it), and the error for bad input. It imports
 * nothing of ours, so that any program may use it.
 */

/**
 * Reads a password: from the terminal without echo (asking twice when `confirm`), or the first
 * line of stdin when stdin is not a terminal. Never from the command line.
 */
export async function readPassword(
  label: string,
  options: { confirm?: boolean } = {},
): Promise<string> {
  if (!Deno.stdin.isTerminal()) return await readFirstLine();
  const first = await promptHidden(`${label}: `);
  if (options.confirm) {
    const second = await promptHidden(`Repeat ${label.toLowerCase()}: `);
    if (first !== second) throw new InputError("Passwords do not match");
  }
  return first;
}

/** Bad input from the person at the keyboard, reported as one line. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InputError";
  }
}

async function readFirstLine(): Promise<string> {
  const text = await new Response(Deno.stdin.readable).text();
  return text.split(/\r?\n/, 1)[0];
}

async function promptHidden(question: string): Promise<string> {
  const encoder = new TextEncoder();
  await Deno.stderr.write(encoder.encode(question));
  Deno.stdin.setRaw(true);
  const bytes: number[] = [];
  try {
    const buffer = new Uint8Array(64);
    read: while (true) {
      const n = await Deno.stdin.read(buffer);
      if (n === null) break;
      for (const byte of buffer.subarray(0, n)) {
        if (byte === 0x03) throw new InputError("Cancelled");
        if (byte === 0x0d || byte === 0x0a) break read;
        if (byte === 0x7f || byte === 0x08) eraseLastCharacter(bytes);
        else bytes.push(byte);
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
    await Deno.stderr.write(encoder.encode("\n"));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/**
 * Backspace at the hidden prompt: removes the last character's UTF-8 bytes, its continuation
 * bytes (10xxxxxx) and the byte that starts it, so that no half character is left behind.
 */
export function eraseLastCharacter(bytes: number[]): void {
  while (bytes.length > 0 && (bytes.at(-1)! & 0xc0) === 0x80) bytes.pop();
  bytes.pop();
}
