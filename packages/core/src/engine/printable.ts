/**
 * Text from outside (a CA's refusal, an enroller's error, a certificate's subject) as it may go into
 * an event, enrollment.json and `status`: control, line-separator and bidirectional-override
 * characters become spaces (no terminal escapes, no forged log lines), and it is cut at `max`
 * characters (512 unless told).
 */
export const printable = (text: string, max = 512): string => {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing them is the point
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};
