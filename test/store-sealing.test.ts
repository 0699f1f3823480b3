/**
 * A sealed PAN opens only as seal() wrote it: AES-256-GCM with a 12-byte IV and the full
 * 16-byte tag. GCM itself accepts a tag cut down to 4 bytes, which makes a forgery
 * 2^96 times easier; such a value, a changed IV length, or a tampered ciphertext is
 * refused with a message that names what was wrong and never the PAN.
 */
import t from 'tap';
import { CardKeys } from '../switch/store/secrets.js';

const PAN = '4761739001010119';
const keys = new CardKeys(Buffer.alloc(32, 9));

t.test('a sealed PAN opens only with its 12-byte IV and full 16-byte tag', async (tt) => {
  const sealed = keys.seal(PAN);
  tt.equal(keys.open(sealed), PAN, 'as written, it opens');
  const [iv, tag, body] = sealed.split('.');
  const tag4 = Buffer.from(tag, 'base64url').subarray(0, 4).toString('base64url');
  tt.throws(() => keys.open(`${iv}.${tag4}.${body}`), /expected a 16-byte tag, got 4/, 'a tag cut to 4 bytes is refused');
  const iv16 = Buffer.concat([Buffer.from(iv, 'base64url'), Buffer.alloc(4)]).toString('base64url');
  tt.throws(() => keys.open(`${iv16}.${tag}.${body}`), /expected a 12-byte IV, got 16/);
  const flipped = Buffer.from(body, 'base64url');
  flipped[0] ^= 1;
  let message = '';
  try {
    keys.open(`${iv}.${tag}.${flipped.toString('base64url')}`);
  } catch (e) {
    message = (e as Error).message;
  }
  tt.ok(message.length > 0, `a tampered ciphertext is refused: ${message}`);
  tt.notOk(message.includes(PAN) || message.includes('0119'), 'and the message carries no card data');
  tt.throws(() => keys.open('no-dots'), /expected iv\.tag\.ciphertext/);
});
