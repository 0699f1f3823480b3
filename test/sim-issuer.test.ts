/**
 * The issuer simulator over real TCP on 127.0.0.1: answers, magic amounts, the ledger
 * of holds and its idempotent reversals. Nothing sleeps: every wait is on a message or
 * an event, with a deadline.
 */
import { get } from 'node:http';
import t, { type Test } from 'tap';
import {
  DialectError, IsoMessage, dialectFromOverrides, formatF90, getDialect, repeatOf, reversalOf, type Dialect,
} from '../codec/index.js';
import { connectClient, type SimClient } from '../switch/sim/client.js';
import { startIssuer, type IssuerOptions, type IssuerSim } from '../switch/sim/issuer.js';
import { MAGIC_AMOUNTS, magicOf, magicTable } from '../switch/sim/magic.js';
import { createRng } from '../switch/sim/prng.js';

const D87 = getDialect('iso87a');
const PAN = '4761739001010119';

let stanSeq = 100;
let rrnSeq = 0;

/** A 0200 as a terminal would send it; fields can be overridden or removed (undefined). */
function sale(amount: string, over: Record<number, string | undefined> = {}): IsoMessage {
  const stan = String(++stanSeq).padStart(6, '0');
  const fields: Record<number, string | undefined> = {
    2: PAN, 3: '000000', 4: amount.padStart(12, '0'), 7: '1125221530', 11: stan, 12: '221530', 13: '1125',
    22: '051', 25: '00', 37: 'T1' + String(++rrnSeq).padStart(10, '0'), 41: 'TERM0001', 42: 'MERCHANT0000001', 49: '840',
    ...over,
  };
  const m = new IsoMessage('0200');
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) m.set(Number(k), v);
  return m;
}

function echo(code = '301'): IsoMessage {
  return new IsoMessage('0800', { 7: '1125221530', 11: String(++stanSeq).padStart(6, '0'), 70: code });
}

async function setup(tt: Test, opts: IssuerOptions = {}): Promise<{ issuer: IssuerSim; client: SimClient }> {
  const issuer = await startIssuer({ seed: 1, approveRate: 1, ...opts });
  const client = await connectClient({ port: issuer.port, dialect: opts.dialect, framing: opts.framing });
  tt.teardown(async () => {
    await client.close();
    await issuer.close();
  });
  return { issuer, client };
}

/** Everything sent before this on the same connection has been handled by the issuer. */
async function barrier(client: SimClient): Promise<void> {
  await client.request(echo());
}

t.test('network management: sign-on and echo are answered 0810 00 with F70', async (tt) => {
  const { issuer, client } = await setup(tt);
  const on = await client.request(echo('001'));
  tt.equal(on.mti, '0810');
  tt.equal(on.get(39), '00');
  tt.equal(on.get(70), '001');
  const ec = await client.request(echo('301'));
  tt.equal(ec.get(70), '301');
  const c = issuer.ledger().counters;
  tt.equal(c.signOns, 1);
  tt.equal(c.echoes, 1);
  tt.equal(c.networkManagement, 2);
});

t.test('an approval carries F38 and places a hold keyed like F90', async (tt) => {
  const { issuer, client } = await setup(tt);
  const req = sale('1000', { 32: '123456' });
  const res = await client.request(req);
  tt.equal(res.mti, '0210');
  tt.equal(res.get(39), '00');
  tt.match(res.get(38), /^\d{6}$/);
  tt.equal(res.get(37), req.get(37), 'RRN echoed');
  const l = issuer.ledger();
  tt.equal(l.holds.length, 1);
  const h = l.holds[0];
  const f90 = formatF90({ mti: '0200', stan: req.get(11) as string, transmissionDateTime: '1125221530', acquirer: '123456' });
  tt.equal(h.key, f90.slice(0, 31), 'key = F90 positions 1-31');
  tt.equal(h.rrn, req.get(37));
  tt.equal(h.terminalId, 'TERM0001');
  tt.equal(h.merchantId, 'MERCHANT0000001');
  tt.equal(h.amount, '000000001000');
  tt.equal(h.originalAmount, '000000001000');
  tt.equal(h.approvalCode, res.get(38));
  tt.equal(h.status, 'held');
  tt.equal(h.pan, '476173******0119', 'PAN masked in the ledger');
  tt.notOk(JSON.stringify(l).includes(PAN), 'no full PAN anywhere in the snapshot');
  tt.notOk(issuer.ledgerSummary().includes(PAN), 'no full PAN in the printed ledger');
  tt.equal(l.summary.holds, 1);
  tt.equal(l.heldAmount, 1000);
});

t.test('declines use 05 or 51 and hold nothing', async (tt) => {
  const { issuer, client } = await setup(tt, { approveRate: 0, seed: 7 });
  const codes = new Set<string>();
  for (let i = 0; i < 20; i++) codes.add((await client.request(sale('2000'))).get(39) as string);
  for (const c of codes) tt.ok(c === '05' || c === '51', `code ${c}`);
  const l = issuer.ledger();
  tt.equal(l.holds.length, 0);
  tt.equal((l.counters.declined['05'] ?? 0) + (l.counters.declined['51'] ?? 0), 20);
});

t.test('magic amounts script the outcome', async (tt) => {
  tt.equal(magicOf('000000001051')?.ending, '51');
  tt.equal(magicOf('000000001000'), undefined, 'amounts ending in 00 are never magic');
  tt.match(magicTable(), /\| \.\.91 \| never answered/);
  const { issuer, client } = await setup(tt, { lateMs: 30 });
  for (const ending of ['05', '51', '59', '94', '96']) {
    const req = sale('12' + ending);
    const res = await client.request(req);
    tt.equal(res.get(39), ending, `..${ending} answered ${ending}`);
    tt.notOk(res.has(38), 'no approval code');
  }
  tt.equal(issuer.ledger().holds.length, 0, 'declines and 94/96 hold nothing');

  const late = sale('1268');
  const lateEvent = issuer.waitFor((e) => e.msg.get(11) === late.get(11));
  const lateRes = await client.request(late);
  tt.equal(lateRes.get(39), '00', '..68 approved');
  tt.equal((await lateEvent).delayMs, 30, '..68 answered after lateMs');

  const lost = sale('1299');
  const gone = sale('1291');
  client.send(lost);
  client.send(gone);
  await barrier(client);
  const stans = new Set([lost.get(11), gone.get(11)]);
  tt.notOk(client.received.some((m) => m.mti === '0210' && stans.has(m.get(11))), '..99 and ..91 never answered');
  const l = issuer.ledger();
  tt.same(l.holds.map((h) => h.rrn).sort(), [late.get(37), lost.get(37)].sort(), '..68 and ..99 hold; ..91 does not');
  tt.equal(l.counters.dropped, 2);
  tt.equal(l.counters.late, 1);
  tt.equal(MAGIC_AMOUNTS.filter((m) => m.hold).length, 3);

  const part = sale('1210');
  const partRes = await client.request(part);
  tt.same([partRes.get(39), partRes.get(4)], ['10', '000000000605'], '..10 approved in part: half, rounded down');
  tt.ok(partRes.has(38), 'with an approval code');
  tt.equal(issuer.ledger().holds.find((h) => h.rrn === part.get(37))?.amount, '000000000605', 'and that much held');
});

t.test('answers go out of order when latencies differ', async (tt) => {
  const { client } = await setup(tt, { lateMs: 200 });
  const slow = sale('3368');
  const fast = sale('3300');
  const pSlow = client.request(slow);
  const pFast = client.request(fast);
  await Promise.all([pSlow, pFast]);
  const order = client.received.filter((m) => m.mti === '0210').map((m) => m.get(11));
  tt.same(order, [fast.get(11), slow.get(11)]);
});

t.test('200 requests in flight on one connection are each answered and matched', async (tt) => {
  const { issuer, client } = await setup(tt, { approveRate: 0.7, latencyMs: { min: 0, max: 20 }, seed: 3 });
  const reqs = Array.from({ length: 200 }, (_, i) => sale(String(100 + i) + '00'));
  const answers = await Promise.all(reqs.map((r) => client.request(r, 10000)));
  for (let i = 0; i < reqs.length; i++) {
    tt.equal(answers[i].get(37), reqs[i].get(37));
    tt.equal(answers[i].get(4), reqs[i].get(4));
  }
  const approved = answers.filter((a) => a.get(39) === '00').map((a) => a.get(37)).sort();
  tt.same(issuer.ledger().holds.map((h) => h.rrn).sort(), approved, 'one hold per approval');
  tt.ok(approved.length > 0 && approved.length < 200);
});

t.test('a reversal matched by F90 releases the hold once; repeats and second reversals never release again', async (tt) => {
  const { issuer, client } = await setup(tt);
  const orig = sale('5000');
  const res = await client.request(orig);
  const rev = reversalOf(D87, orig, { reason: '68', approvalCode: res.get(38) });
  const ack = await client.request(rev);
  tt.equal(ack.mti, '0410');
  tt.equal(ack.get(39), '00');
  tt.equal(ack.get(90), rev.get(90), 'F90 echoed');
  let l = issuer.ledger();
  tt.equal(l.holds.length, 0);
  tt.equal(l.released.length, 1);
  tt.same(l.released[0].reversals, { received: 1, distinct: 1, repeats: 0, reason: '68', partial: false });
  tt.equal(l.released[0].amount, '000000000000');

  const rep = await client.request(repeatOf(rev));
  tt.equal(rep.mti, '0410');
  tt.equal(rep.get(39), '00', 'a repeat is answered again');
  await client.request(repeatOf(rev));
  l = issuer.ledger();
  tt.same(l.released[0].reversals, { received: 3, distinct: 1, repeats: 2, reason: '68', partial: false }, 'each 0401 of it is a repeat');
  tt.equal(l.counters.reversalsApplied, 1, 'released once');
  await client.request(rev);
  l = issuer.ledger();
  tt.equal(l.released[0].reversals.distinct, 2, 'the same 0400 again is not a repeat: a switch that resends it instead of a 0401 reverses twice');
  tt.equal(l.counters.secondReversals, 1);

  const second = reversalOf(D87, orig, { reason: '06', stan: '999001' });
  const ack2 = await client.request(second);
  tt.equal(ack2.get(39), '00');
  l = issuer.ledger();
  tt.equal(l.released[0].reversals.distinct, 3, 'a distinct second reversal is counted');
  tt.equal(l.counters.secondReversals, 2);
  tt.equal(l.summary.reversedTwice, 1);
  tt.equal(l.counters.reversalsApplied, 1, 'still released once');
  tt.equal(l.released[0].reversals.reason, '68', 'the first reversal stands');
});

t.test('a reversal advice 0420 is acknowledged 0430 and releases the hold', async (tt) => {
  const { issuer, client } = await setup(tt);
  const orig = sale('6000');
  await client.request(orig);
  const adv = reversalOf(D87, orig, { reason: '68', advice: true });
  tt.equal(adv.mti, '0420');
  const ack = await client.request(adv);
  tt.equal(ack.mti, '0430');
  tt.equal(ack.get(39), '00');
  const rep = await client.request(repeatOf(adv));
  tt.equal(rep.mti, '0430');
  const l = issuer.ledger();
  tt.equal(l.released.length, 1);
  tt.equal(l.released[0].reversals.repeats, 1);
});

t.test('a partial reversal (F95) leaves the final amount held', async (tt) => {
  const { issuer, client } = await setup(tt);
  const orig = sale('10000');
  await client.request(orig);
  const part = reversalOf(D87, orig, { reason: '06', finalAmount: '3000' });
  tt.ok(part.has(95));
  const ack = await client.request(part);
  tt.equal(ack.get(39), '00');
  let l = issuer.ledger();
  tt.equal(l.holds.length, 1);
  tt.equal(l.holds[0].status, 'partial');
  tt.equal(l.holds[0].amount, '000000003000');
  tt.equal(l.holds[0].originalAmount, '000000010000');
  tt.equal(l.heldAmount, 3000);
  tt.ok(l.holds[0].reversals.partial);
  await client.request(repeatOf(part));
  l = issuer.ledger();
  tt.equal(l.holds[0].amount, '000000003000', 'a repeat changes nothing');
  tt.equal(l.counters.partialReversals, 1);
  tt.equal(l.summary.partial, 1);
});

t.test('an F95 final amount not below the original is answered but not applied', async (tt) => {
  const { issuer, client } = await setup(tt);
  const orig = sale('4000');
  await client.request(orig);
  const bad = reversalOf(D87, orig, { reason: '06' });
  bad.set(95, '000000004000000000000000C00000000C00000000');
  tt.equal((await client.request(bad)).get(39), '00');
  const l = issuer.ledger();
  tt.equal(l.holds[0].amount, '000000004000');
  tt.equal(l.counters.invalidPartials, 1);
});

t.test('a reversal of an unknown or declined original is answered 00 and recorded as unmatched', async (tt) => {
  const { issuer, client } = await setup(tt);
  const ghost = sale('7000', { 41: 'GHOST001' });
  const rev = reversalOf(D87, ghost, { reason: '68' });
  const ack = await client.request(rev);
  tt.equal(ack.mti, '0410');
  tt.equal(ack.get(39), '00');
  await client.request(repeatOf(rev));

  const declined = sale('7051');
  tt.equal((await client.request(declined)).get(39), '51');
  await client.request(reversalOf(D87, declined, { reason: '68' }));

  const l = issuer.ledger();
  tt.equal(l.unmatched.length, 2);
  const unknown = l.unmatched.find((u) => u.terminalId === 'GHOST001');
  tt.equal(unknown?.original, 'unknown');
  tt.equal(unknown?.received, 2, 'the repeat is counted on the same record');
  tt.equal(unknown?.rrn, ghost.get(37));
  const dec = l.unmatched.find((u) => u.rrn === declined.get(37));
  tt.equal(dec?.original, 'not-approved');
  tt.equal(dec?.originalCode, '51');
  tt.equal(l.counters.unmatchedReversals, 2);
  tt.equal(l.holds.length + l.released.length, 0);
});

t.test('without F90 a reversal is matched by F41 + F11 + F7', async (tt) => {
  const { issuer, client } = await setup(tt);
  const orig = sale('8000');
  await client.request(orig);
  const rev = reversalOf(D87, orig, { reason: '68' });
  rev.delete(90);
  await client.request(rev);
  const l = issuer.ledger();
  tt.equal(l.released.length, 1);
  tt.equal(l.released[0].rrn, orig.get(37));
});

t.test('originals sharing a key (colliding STANs) are told apart by F41, then F37', async (tt) => {
  const { issuer, client } = await setup(tt);
  const a = sale('9000', { 11: '000042', 41: 'TERMAAAA' });
  const b = sale('9100', { 11: '000042', 41: 'TERMBBBB' });
  await client.request(a);
  // Same STAN and F7 on one connection: request() would match either answer, so wait on F41.
  client.send(b);
  await client.waitFor((m) => m.mti === '0210' && m.get(41) === 'TERMBBBB');
  tt.equal(issuer.ledger().holds.length, 2);
  client.send(reversalOf(D87, b, { reason: '68' }));
  await client.waitFor((m) => m.mti === '0410' && m.get(41) === 'TERMBBBB');
  const l = issuer.ledger();
  tt.same(l.released.map((h) => h.terminalId), ['TERMBBBB']);
  tt.same(l.holds.map((h) => h.terminalId), ['TERMAAAA']);
});

t.test('a duplicate original gets the stored answer and is never posted twice', async (tt) => {
  const { issuer, client } = await setup(tt, { approveRate: 0.5, seed: 11 });
  const orig = sale('1500');
  const first = await client.request(orig);
  const again = await client.request(orig);
  tt.equal(again.get(39), first.get(39));
  tt.equal(again.get(38), first.get(38));
  const l = issuer.ledger();
  tt.equal(l.counters.duplicateOriginals, 1);
  tt.equal(l.holds.length, first.get(39) === '00' ? 1 : 0);
});

t.test('a request without F4 or F11 is answered 30 and holds nothing', async (tt) => {
  const { issuer, client } = await setup(tt);
  const res = await client.request(sale('', { 4: undefined }));
  tt.equal(res.get(39), '30');
  tt.equal(issuer.ledger().holds.length, 0);
  tt.equal(issuer.ledger().counters.formatErrors, 1);
});

t.test('other MTIs are answered 12; unexpected responses are ignored', async (tt) => {
  const { issuer, client } = await setup(tt);
  const res = await client.request(new IsoMessage('0500', { 11: '000501', 7: '1125221530' }));
  tt.equal(res.mti, '0510');
  tt.equal(res.get(39), '12');
  client.send(new IsoMessage('0210', { 11: '000502', 39: '00' }));
  await barrier(client);
  tt.equal(issuer.ledger().counters.unsupported, 2);
});

t.test('undecodable frames are counted; a broken length prefix closes only that connection', async (tt) => {
  const logs: string[] = [];
  const { issuer, client } = await setup(tt, { log: (l) => logs.push(l) });
  client.sendRaw(Buffer.from([0, 4, 0x30, 0x32, 0x30, 0x30])); // "0200" and no bitmap
  await barrier(client);
  tt.equal(issuer.ledger().counters.decodeErrors, 1);
  tt.equal(logs.length, 1);

  const other = await connectClient({ port: issuer.port, framing: 'len4a' });
  tt.teardown(() => other.close());
  other.sendRaw(Buffer.from('XXXX0200', 'ascii')); // not a len4a prefix
  await other.closed;
  const res = await client.request(sale('2500'));
  tt.equal(res.get(39), '00', 'the first connection is still served');
});

t.test('the ledger is served over HTTP', async (tt) => {
  const { issuer, client } = await setup(tt, { ledgerHttp: { host: '127.0.0.1', port: 0 } });
  const orig = sale('4200');
  await client.request(orig);
  tt.match(issuer.ledgerUrl, /^http:\/\/127\.0\.0\.1:\d+\/ledger$/);
  const fetch = (path: string): Promise<{ status: number; body: string }> => new Promise((resolve, reject) => {
    get(new URL(path, issuer.ledgerUrl as string), (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
  const json = await fetch('/ledger');
  tt.equal(json.status, 200);
  const data = JSON.parse(json.body) as { holds: { rrn: string }[] };
  tt.same(data.holds.map((h) => h.rrn), [orig.get(37)]);
  tt.notOk(json.body.includes(PAN));
  const totals = await fetch('/ledger/summary');
  tt.equal(totals.status, 200);
  const sum = JSON.parse(totals.body) as { holds: number; heldAmount: number; approved: number; counters: { requests: number } };
  tt.match(sum, { holds: 1, heldAmount: Number(orig.get(4)), approved: 1, counters: { requests: 1 } }, 'the totals as JSON');
  tt.notOk(totals.body.includes(PAN));
  const text = await fetch('/ledger/summary?format=text');
  tt.equal(text.status, 200);
  tt.match(text.body, /holds: 1 in place/, 'and as the text printed at exit');
  tt.equal((await fetch('/nope')).status, 404);
});

t.test('the same seed gives the same decisions', async (tt) => {
  const run = async (): Promise<string[]> => {
    const issuer = await startIssuer({ seed: 42, approveRate: 0.5 });
    const client = await connectClient({ port: issuer.port });
    const codes: string[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await client.request(sale('1200'));
      codes.push(`${r.get(39) ?? ''}/${r.get(38) ?? ''}`);
    }
    await client.close();
    await issuer.close();
    return codes;
  };
  const a = await run();
  tt.same(await run(), a);
  tt.ok(new Set(a.map((c) => c.slice(0, 2))).size > 1, 'both approvals and declines');
  const r1 = createRng(5);
  const r2 = createRng(5);
  tt.same([r1.next(), r1.next(), r1.int(1, 6)], [r2.next(), r2.next(), r2.int(1, 6)]);
});

t.test('other 1987 dialects and framings work', async (tt) => {
  const { issuer, client } = await setup(tt, { dialect: 'iso87b', framing: 'len4a' });
  const res = await client.request(sale('1100'));
  tt.equal(res.get(39), '00');
  tt.equal(issuer.dialect.name, 'iso87b');
  const rev = reversalOf(issuer.dialect as Dialect, sale('1100'), { reason: '68' });
  tt.equal((await client.request(rev)).get(39), '00');
});

t.test('options are checked', async (tt) => {
  // Every built-in dialect is served (test/sim-dialects.test.ts); a derived one lacking what its standard needs is not.
  await tt.rejects(startIssuer({ dialect: dialectFromOverrides({ base: 'iso87a', fields: { 90: null } }, 'no90.json') }), DialectError);
  await tt.rejects(startIssuer({ dialect: dialectFromOverrides({ base: 'cup', fields: { 39: null } }, 'no39.json') }), DialectError);
  await tt.rejects(startIssuer({ approveRate: 1.5 }), RangeError);
  await tt.rejects(startIssuer({ latencyMs: { min: 10, max: 5 } }), RangeError);
  await tt.rejects(startIssuer({ framing: 'none' }), /cannot delimit/);
});

t.test('waitFor rejects at its deadline', async (tt) => {
  const { issuer } = await setup(tt);
  await tt.rejects(issuer.waitFor(() => true, 20), /no matching message within 20 ms/);
});
