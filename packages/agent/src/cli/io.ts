import type { ErrorCode } from '@credroam/core';
import { printable } from '@credroam/core/printable';
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
 * Text for a terminal (line breaks kept) and on one line: none of what others wrote moves the
 * cursor, clears the screen, retitles the terminal, reorders a line or, on one line, forges another.
 */
export { terminalText } from '@credroam/core/printable';
/** `terminalText` on one line: a line break becomes a space too (no length limit). */
export const terminalLine = (text: string): string => printable(text, Number.POSITIVE_INFINITY);
