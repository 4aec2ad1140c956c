import test from 'ava';
import fc from 'fast-check';
import { Attribute, BerWriter, MessageParser, ProtocolOperation, type SearchEntry } from 'ldapts';

// ldapts's MessageParser as patched here (patches/ldapts@8.2.0.patch): a message that arrives in
// many chunks is joined once it is whole, not at every chunk. Unpatched, a user entry of 4 000
// tokens (a few MB, in TLS records of 16 KiB) was copied again at every chunk: hundreds of MB, the
// square of its size, 0.15 s of every full read and more of a first download's.

/** A search result entry (message `id`) of `dn` with one attribute holding `values`. */
function searchEntry(id: number, dn: string, values: readonly Buffer[]): Buffer {
  const writer = new BerWriter();
  writer.startSequence();
  writer.writeInt(id);
  writer.startSequence(ProtocolOperation.LDAP_RES_SEARCH_ENTRY);
  writer.writeString(dn);
  writer.startSequence();
  new Attribute({ type: 'credroamToken', values: [...values] }).write(writer);
  writer.endSequence();
  writer.endSequence();
  writer.endSequence();
  return Buffer.from(writer.buffer);
}

/** What `parser` makes of `chunks`, fed in order: the entries' values, and any error. */
function feed(chunks: readonly Buffer[]) {
  const parser = new MessageParser();
  const entries: { id: number; values: Buffer[] }[] = [];
  const errors: unknown[] = [];
  parser.on('message', (m) => {
    const entry = m as SearchEntry;
    entries.push({ id: entry.messageId, values: entry.attributes[0]?.parsedBuffers ?? [] });
  });
  parser.on('error', (e) => errors.push(e));
  for (const chunk of chunks) parser.read(chunk, new Map());
  return { entries, errors };
}

const split = (data: Buffer, size: number) =>
  Array.from({ length: Math.ceil(data.length / size) }, (_, i) => data.subarray(i * size, (i + 1) * size));

const valuesOf = (count: number, size: number) =>
  Array.from({ length: count }, (_, i) => Buffer.alloc(size, i % 251));

test('a large entry in TLS-sized chunks is parsed whole, its bytes joined once (linear, not in the square of its size)', (t) => {
  const values = valuesOf(4000, 700);
  const message = searchEntry(7, 'uid=main,ou=people,dc=example,dc=org', values);
  const chunks = split(message, 16 * 1024);
  t.true(chunks.length > 150);

  const concat = Buffer.concat;
  let copied = 0;
  Buffer.concat = ((list: readonly Uint8Array[], length?: number) => {
    const joined = concat(list, length);
    copied += joined.length;
    return joined;
  }) as typeof Buffer.concat;
  let result: ReturnType<typeof feed>;
  try {
    result = feed(chunks);
  } finally {
    Buffer.concat = concat;
  }
  t.deepEqual(result.errors, []);
  t.is(result.entries.length, 1);
  t.is(result.entries[0]!.id, 7);
  t.deepEqual(result.entries[0]!.values, values);
  // Unpatched, this was about chunks.length / 2 times the message (≈ 400 MB here).
  t.true(copied <= 2 * message.length, `copied ${copied} bytes for a message of ${message.length}`);
});

test('messages cut at any byte, and several in one chunk, are parsed as if they came whole', (t) => {
  const messages = [
    searchEntry(1, 'cn=a', valuesOf(3, 200)),
    searchEntry(2, 'cn=b', valuesOf(1, 70_000)), // a long-form length of three bytes
    searchEntry(3, 'cn=c', []),
    searchEntry(4, 'cn=d', valuesOf(40, 30)),
  ];
  const stream = Buffer.concat(messages);
  const whole = feed([stream]);
  t.deepEqual(whole.errors, []);
  t.deepEqual(
    whole.entries.map((e) => e.id),
    [1, 2, 3, 4],
  );
  fc.assert(
    fc.property(fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 40 }), (cuts) => {
      const at = [0, ...cuts.sort((a, b) => a - b), stream.length];
      const chunks = at.slice(1).map((end, i) => stream.subarray(at[i], end));
      const got = feed(chunks);
      t.deepEqual(got, whole);
    }),
    { numRuns: 300 },
  );
  // Every cut inside the headers of the message with a long-form length, one byte at a time.
  const start = messages[0]!.length;
  for (let cut = start + 1; cut < start + 12; cut++)
    t.deepEqual(feed([stream.subarray(0, cut), stream.subarray(cut)]), whole);
});
