/** Control (but the line break), line-separator and bidirectional-control characters. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: replacing them is the point
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text for a terminal, line breaks kept: every control, line-separator and bidi-control character
 * but the line break becomes a space. What a command prints may carry text others wrote (state
 * files in the user's home, names from the store or the directory): none of it moves the cursor,
 * clears the screen, retitles the terminal or reorders a line.
 */
export const terminalText = (text: string): string => text.replace(UNSAFE, ' ');

/**
 * Text from outside (a CA's refusal, an enroller's error, a certificate's subject, a file's name, a
 * server's message) as it may go into an event, enrollment.json, an error and `status`: on one
 * line (a line break is a space too, so no forged log lines), no terminal escapes, and cut at `max`
 * characters (512 unless told).
 */
export const printable = (text: string, max = 512): string => {
  const flat = terminalText(text).replace(/\n/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};
