import type { ErrorCode } from '@credroam/core';
/** What a command may touch of the process: injected so tests run commands in-process. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
  /** All of standard input, read once on first use. */
  readonly stdin: () => Promise<string>;
}

/** docs/design.md §6 exit codes. */
export const ExitCode = { Done: 0, Failed: 1, Usage: 2, Skipped: 3 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * The command line is wrong (exit 2). The message is one line that says what is wrong; the CLI
 * adds a pointer to the command's `--help`. `ids`: the flags, values and command involved.
 */
export class UsageError extends Error {
  override name = 'UsageError';

  constructor(
    message: string,
    readonly ids: Readonly<Record<string, unknown>> = {},
    /** `E_USAGE`, or a more precise code for a scripted caller. */
    readonly code: ErrorCode = 'E_USAGE',
  ) {
    super(message);
  }
}

/** Reads standard input at most once (several secrets may come from it: `passwd`). */
export function onceStdin(read: () => Promise<string>): () => Promise<string> {
  let text: Promise<string> | undefined;
  return () => {
    text ??= read();
    return text;
  };
}

/**
 * Text for a terminal: every control, line-separator and bidi-control character but the line
 * break becomes a space. What a command prints may carry text others wrote (state files in the
 * user's home, names from the store or the directory): none of it moves the cursor, clears the
 * screen, retitles the terminal or reorders a line.
 */
export const terminalText = (text: string): string =>
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing them is the point
  text.replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, ' ');

/** `terminalText` on one line: a line break becomes a space too. */
export const terminalLine = (text: string): string => terminalText(text.replace(/\n/g, ' '));
