import test from 'ava';
import { parseSitePolicy } from '../../src/index.js';

test('a site policy trusts no directory with the roaming password unless it says so', (t) => {
  t.false(parseSitePolicy({}).directory.trustWithPassword);
  t.false(parseSitePolicy({ directory: {} }).directory.trustWithPassword);
  t.true(parseSitePolicy({ directory: { trustWithPassword: true } }).directory.trustWithPassword);
});

test('a directory section that is not a plain yes or no is refused, naming the place', (t) => {
  t.throws(() => parseSitePolicy({ directory: { trustWithPassword: 'yes' } }), {
    message: /invalid policy: .*\/directory\/trustWithPassword/,
  });
  t.throws(() => parseSitePolicy({ directory: { trustWithPasword: true } }), {
    message: /invalid policy: .*\/directory.*trustWithPasword/,
  });
});
