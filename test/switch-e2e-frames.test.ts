/**
 * The running switch against bad input and local network management, over real TCP on
 * 127.0.0.1: malformed, oversized and garbage frames, a frame whose MTI and keys decode
 * but a later field does not, odd MTIs, and reversals whose reason rules/ refuses. The
 * switch must answer what it can, close what it cannot resynchronise, count both, keep
 * serving every other connection, and never let the process die.
 */
import t from 'tap';
import { IsoMessage, encode, frame, getDialect, reversalOf } from '../codec/index.js';
import { transmissionTime } from '../codec/index.js';
import type { SimClient } from '../switch/sim/client.js';
import type { IssuerEvent } from '../switch/sim/issuer.js';
import { ACQUIRER, nextStan, sale, startHarness, type Harness } from './support/switch-harness.js';

const D87 = getDialect('iso87a');
const saleOf = (rrn: string) => (e: IssuerEvent): boolean => e.msg.mti[1] === '2' && e.msg.get(37) === rrn;

/** A len2 frame around any body. */
function len2(body: Uint8Array): Buffer {
  const out = Buffer.alloc(2 + body.length);
  out.writeUInt16BE(body.length, 0);
  out.set(body, 2);
  return out;
}

/** Still serving: a sale on a connection opened before the trouble is answered. */
async function stillServing(h: Harness, c: SimClient): Promise<void> {
  const res = await c.request(sale({ amount: '1200' }));
  if (res.get(39) !== '00') throw new Error(`expected an approval, got ${res.get(39)}`);
}

t.test('network management: 0800 echo, sign-on and an unknown code are answered locally, never forwarded', async (tt) => {
  const h = await startHarness(tt);
  const c = await h.client();
  const f7 = transmissionTime(Date.now());
  const echo = await c.request(new IsoMessage('0800', { 7: f7, 11: '000301', 70: '301' }));
  tt.equal(echo.mti, '0810');
  tt.equal(echo.get(39), '00');
  tt.equal(echo.get(70), '301');
  tt.equal(echo.get(11), '000301');
  tt.equal(echo.get(7), f7);
  const on = await c.request(new IsoMessage('0800', { 7: f7, 11: '000302', 70: '001' }));
  tt.equal(on.get(39), '00');
  tt.equal(on.get(70), '001');
  const odd = await c.request(new IsoMessage('0800', { 7: f7, 11: '000303', 70: '999' }));
  tt.equal(odd.mti, '0810');
  tt.equal(odd.get(39), '12', 'an unknown network management code: invalid transaction');
  await h.barrier(c);
  const nm = h.issuer.ledger().counters;
  tt.equal(nm.echoes, 0, 'no echo reached the issuer');
  tt.equal(nm.networkManagement, 1, 'only the switch\'s own sign-on');
});

t.test('malformed, oversized and garbage frames: rejected or closed, counted, and the switch keeps serving', async (tt) => {
  const h = await startHarness(tt);
  const steady = await h.client();
  await stillServing(h, steady);
  const count = (name: string): number => h.sw.counters.get(name);

  await tt.test('garbage body (no readable MTI): the connection is closed', async (t2) => {
    const c = await h.client();
    const before = count('decode_errors');
    c.sendRaw(len2(Buffer.from('\x00\xffHELLO, SWITCH \x01\x02\x03', 'latin1')));
    await c.closed;
    t2.equal(count('decode_errors'), before + 1);
    t2.equal(c.received.length, 0, 'nothing can be addressed to an unreadable message');
    await stillServing(h, steady);
  });

  await tt.test('garbage bytes that are not even a frame (a length far over maxFrame): closed', async (t2) => {
    const c = await h.client();
    const before = count('frame_errors');
    c.sendRaw(Buffer.from('\xff\xff GET / HTTP/1.1\r\n\r\n', 'latin1'));
    await c.closed;
    t2.equal(count('frame_errors'), before + 1);
    await stillServing(h, steady);
  });

  await tt.test('an oversized frame (9000 bytes declared and sent, maxFrame 8192): closed before buffering it', async (t2) => {
    const c = await h.client();
    const before = count('frame_errors');
    c.sendRaw(len2(Buffer.alloc(9000, 0x30)));
    await c.closed;
    t2.equal(count('frame_errors'), before + 1);
    await stillServing(h, steady);
  });

  await tt.test('MTI, F11 and F41 decode but a later field does not: 0210 with F39 30, and the connection stays', async (t2) => {
    const c = await h.client();
    const before = count('decode_errors');
    const s = sale({ amount: '1300' });
    const body = encode(D87, s);
    body[body.length - 1] = 0x7e; // F49 (an 3, the last field): '~' is not alphanumeric
    const reject = c.waitFor((m) => m.get(11) === s.get(11));
    c.sendRaw(frame('len2', body));
    const res = await reject;
    t2.equal(res.mti, '0210');
    t2.equal(res.get(39), '30', 'format error');
    t2.equal(res.get(41), s.get(41));
    t2.equal(res.get(37), s.get(37));
    t2.equal(count('decode_errors'), before + 1);
    t2.equal(h.salesSeen(s.get(37) as string).length, 0, 'never forwarded');
    await stillServing(h, c);
  });

  await tt.test('the same for an authorization: 0110 with F39 30', async (t2) => {
    const c = await h.client();
    const s = sale({ amount: '1400', mti: '0100' });
    const body = encode(D87, s);
    body[body.length - 1] = 0x7e;
    const reject = c.waitFor((m) => m.get(11) === s.get(11));
    c.sendRaw(frame('len2', body));
    const res = await reject;
    t2.equal(res.mti, '0110');
    t2.equal(res.get(39), '30');
    await stillServing(h, c);
  });

  await tt.test('a bad field before F11 and F41: nothing to address an answer to, closed', async (t2) => {
    const c = await h.client();
    const before = count('decode_errors');
    const m = new IsoMessage('0200', { 3: '000000', 4: '000000001500', 11: nextStan(), 41: 'TERM0001' });
    const body = encode(D87, m);
    body[4 + 8 + 6] = 0x41; // the first digit of F4
    c.sendRaw(frame('len2', body));
    await c.closed;
    t2.equal(count('decode_errors'), before + 1);
    await stillServing(h, steady);
  });

  await tt.test('a keep-alive (zero length) and a frame written one byte at a time', async (t2) => {
    const c = await h.client();
    c.sendRaw(Buffer.from([0, 0]));
    const s = sale({ amount: '1600' });
    const res = c.waitFor((m) => m.get(11) === s.get(11));
    const bytes = frame('len2', encode(D87, s));
    for (const b of bytes) {
      c.sendRaw(Buffer.from([b]));
      await new Promise((r) => setImmediate(r));
    }
    t2.equal((await res).get(39), '00');
  });

  await tt.test('requests the switch does not serve: a response MTI is ignored, an 0300 gets 12, a sale without F41 gets 30', async (t2) => {
    const c = await h.client();
    const stray = new IsoMessage('0210', { 11: nextStan(), 39: '00', 41: 'TERM0001' });
    c.send(stray);
    const unsupported = await c.request(new IsoMessage('0300', { 11: nextStan(), 41: 'TERM0001' }));
    t2.equal(unsupported.mti, '0310');
    t2.equal(unsupported.get(39), '12');
    const noTerminal = await c.request(sale({ over: { 41: undefined } }));
    t2.equal(noTerminal.mti, '0210');
    t2.equal(noTerminal.get(39), '30');
    await stillServing(h, c);
    t2.notOk(c.received.some((m) => m.get(11) === stray.get(11)), 'nothing answered the stray response');
    t2.equal(count('unexpected_responses'), 1);
    t2.equal(count('unsupported_requests'), 1);
    t2.equal(count('rejected_missing_keys'), 1);
  });

  await stillServing(h, steady);
  tt.ok(count('connections_opened') >= 9, 'every connection was accepted');
});

t.test('a terminal reversal with a reason code rules/ refuses: answered, sent to review, the process survives', async (tt) => {
  const h = await startHarness(tt);
  const c = await h.client();
  const s = sale({ amount: '1700' });
  tt.equal((await c.request(s)).get(39), '00');
  const rev = reversalOf(D87, s, { reason: 'ab', stan: nextStan(), transmissionDateTime: transmissionTime(Date.now()) });
  const ans = await c.request(rev);
  tt.equal(ans.mti, '0410');
  tt.equal(ans.get(39), '00');
  await stillServing(h, c);
  tt.equal(h.sw.counters.get('decision_errors'), 1);
  tt.equal(h.sw.counters.get('manual_reviews'), 1, 'a person looks at it');
  tt.equal(h.reversalsSeen().length, 0);
});

t.test('a sale without F7 that is never answered: the switch stamps F7 upstream, so its reversal can still be built', async (tt) => {
  const h = await startHarness(tt);
  const c = await h.client();
  const s = sale({ amount: '1899', over: { 7: undefined } });
  const rrn = s.get(37) as string;
  const upSale = h.issuer.waitFor(saleOf(rrn));
  const upRev = h.issuer.waitFor((e) => e.msg.mti === '0400' && e.msg.get(37) === rrn);
  tt.equal((await c.request(s)).get(39), '91');
  const up = (await upSale).msg;
  tt.match(up.get(7), /^\d{10}$/, 'F7 stamped by the switch');
  const rev = await upRev;
  tt.equal(rev.msg.get(90)?.slice(10, 20), up.get(7));
  tt.equal(rev.reversal, 'applied');
  tt.equal(h.issuer.ledger().holds.length, 0);
});

t.test('track and PIN data are forwarded once and not kept in the transaction record', async (tt) => {
  const h = await startHarness(tt);
  const c = await h.client();
  const s = sale({ amount: '1900', over: { 35: '4761739001010119=25121011000012345678' } });
  s.set(52, Buffer.from('0123456789abcdef', 'hex'));
  const upSale = h.issuer.waitFor(saleOf(s.get(37) as string));
  tt.equal((await c.request(s)).get(39), '00');
  const up = (await upSale).msg;
  tt.ok(up.has(35) && up.has(52), 'the issuer got the track and the PIN block');
  const txn = h.sw.txns.get(`${ACQUIRER}/${s.get(41)}|${s.get(11)}|${s.get(7)}`);
  tt.ok(txn, 'the transaction is on record');
  for (const n of [35, 36, 45, 52]) {
    tt.notOk(txn?.request.has(n), `F${n} not in the terminal's request as kept`);
    tt.notOk(txn?.sent?.has(n), `F${n} not in the upstream request as kept`);
  }
});

t.test('shutdown does not wait for connected terminals to hang up', async (tt) => {
  const h = await startHarness(tt);
  const c = await h.client();
  await stillServing(h, c);
  let cap: NodeJS.Timeout | undefined;
  const stopped = await Promise.race([
    h.sw.stop(200).then(() => 'stopped'),
    new Promise<string>((r) => { cap = setTimeout(() => r('still waiting after 10 s'), 10_000); }),
  ]);
  clearTimeout(cap);
  tt.equal(stopped, 'stopped');
  await c.closed;
  tt.pass('the terminal\'s connection was closed by the switch');
});
