import 'reflect-metadata';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { world } from './rogue.js';

// --- (3) another program of the user: enrollment.json ---------------------------------------

test('a tampered enrollment.json (times that are not times) breaks neither status nor a run', async (t) => {
  const w = await world(t);
  const a = w.endpoint('a');
  await mkdir(a.home, { recursive: true });
  await writeFile(
    path.join(a.home, 'enrollment.json'),
    JSON.stringify({
      endpoint: 'a'.repeat(32),
      profiles: {
        'user-auth': { failing: { since: 'x', code: 7, reason: {}, nextAttempt: 'y' }, pendingSince: 'z' },
        junk: 'x'.repeat(1000),
      },
    }),
  );
  const standing = await a.service.standing();
  t.is(standing[0]?.state, 'missing');
  const report = await a.service.run();
  t.is(report.profiles[0]?.state, 'issued');
  const saved = await readFile(path.join(a.home, 'enrollment.json'), 'utf8');
  t.false(saved.includes('xxxx'), 'entries of no profile are not kept');
});

test('an enrollment.json whose next attempt is far in the future does not stop enrollment forever', async (t) => {
  const w = await world(t);
  const a = w.endpoint('a');
  await mkdir(a.home, { recursive: true });
  await writeFile(
    path.join(a.home, 'enrollment.json'),
    JSON.stringify({
      endpoint: 'a'.repeat(32),
      profiles: {
        'user-auth': {
          failing: { since: w.clock.now, code: 'E_ENROLL_REFUSED', reason: 'r', nextAttempt: 8.64e15 },
        },
      },
    }),
  );
  const report = await a.service.run();
  t.is(report.profiles[0]?.state, 'issued', 'a retry time beyond the longest back-off is not believed');
});
