/**
 * Card data at rest (PCI DSS v4 3.3.1, 3.5.1; domain.md §7): the switch runs on a SQLite
 * store with real-looking, Luhn-valid PANs of 13 to 19 digits, track 2 (F35), track 1
 * (F45), a PIN block (F52) and ICC data (F55) carrying tag 57 (track 2 equivalent) and
 * tag 5A (the PAN). Sales are approved, time out, come back late, are declined with an
 * unknown outcome, cannot be delivered, are reversed by the chip, and arrive malformed,
 * so the journal, its history and stored reversals (0400 and 0401) all hold rows about
 * these cards, and the log at debug level talks about all of them.
 *
 * Then the bytes are read back: the database file, its -wal and -shm (while the switch
 * runs, and again after it stops) and every log line. None may hold a full PAN (as text
 * or BCD), track 2 or track 1 data, a PIN block, or tag 57. The journal rows must carry
 * the masked PAN (first 6, last 4) and the keyed hash, and a stored message must open to
 * the PAN with the key, so the scan is known to be looking at the right rows.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { IsoMessage, encode, encodeTlv, frame, getDialect, maskPan, reversalOf } from '../codec/index.js';
import { defaultRulesPath } from '../rules/index.js';
import { startSwitch } from '../switch/cli/start-command.js';
import { defaultConfig, UPSTREAM_DEFAULTS } from '../switch/config/index.js';
import { createLogger } from '../switch/observe/log.js';
import { transmissionTime } from '../codec/index.js';
import { connectClient, type SimClient } from '../switch/sim/client.js';
import { startIssuer } from '../switch/sim/issuer.js';
import { sealBinding, unsealMessage } from '../switch/store/sealed.js';
import { CardKeys } from '../switch/store/secrets.js';
import { luhn, luhnComplete } from '../switch/observe/redact.js';
import { until } from './support/until.js';

const D = getDialect('iso87a');
const PAN_KEY = 'ddef93faa6ca7ccf18c05677b4459176de7b0091549eacf08838a6b5185d0712';
const UPSTREAM_TIMEOUT_MS = 300;



/** Digits (and D) as packed BCD, padded with F to whole bytes. */
function bcd(digits: string): Buffer {
  return Buffer.from(digits.length % 2 === 0 ? digits : digits + 'F', 'hex');
}

interface Card {
  pan: string;
  /** F35: PAN=YYMM, service code, discretionary data. */
  track2: string;
  /** What follows the separator: expiry, service code, discretionary data. */
  track2Tail: string;
  /** F45: format B, PAN, name, expiry, service code, discretionary data. */
  track1: string;
  name: string;
  pinBlock: Buffer;
  /** Tag 57's value: track 2 equivalent data in BCD. */
  tag57: Buffer;
  icc: Buffer;
}

function card(body: string, i: number): Card {
  const pan = luhnComplete(body);
  const track2Tail = `2912201${String(40_000 + 731 * i).padStart(5, '0')}${String(i).padStart(2, '0')}`.slice(0, 36 - pan.length);
  const name = `PUBLIC${i}/JOHN Q`;
  const pinBlock = Buffer.from(`9A3F1C0B7E2D48${String(10 + i * 7).padStart(2, '0')}`, 'hex');
  const tag57 = bcd(`${pan}D${track2Tail}`);
  const icc = Buffer.from(encodeTlv([
    { tag: '82', constructed: false, value: Buffer.from('5C00', 'hex') },
    { tag: '57', constructed: false, value: tag57 },
    { tag: '5A', constructed: false, value: bcd(pan) },
    { tag: '5F34', constructed: false, value: Buffer.from('01', 'hex') },
    { tag: '9F26', constructed: false, value: Buffer.from(`41C2E5D09B7736${String(20 + i).padStart(2, '0')}`, 'hex') },
    { tag: '9F36', constructed: false, value: Buffer.from('0012', 'hex') },
  ]));
  return {
    pan, track2: `${pan}=${track2Tail}`, track2Tail, name, pinBlock, tag57, icc,
    track1: `B${pan}^${name}^${track2Tail}`,
  };
}

// Visa 16, Mastercard 16, Amex 15, Discover 16, UnionPay 19, Visa 13.
const CARDS: Card[] = ['476173900101011', '541333008902001', '37828224631000', '601100099013942', '622126000012345678', '422222222222']
  .map((body, i) => card(body, i));

let stanSeq = 0;
let rrnSeq = 0;

/** A chip sale as a terminal sends it: PAN, track 2, track 1, PIN block and ICC data. */
function sale(c: Card, amount: string, terminal: string): IsoMessage {
  const now = Date.now();
  const m = new IsoMessage('0200');
  m.set(2, c.pan);
  m.set(3, '000000');
  m.set(4, amount.padStart(12, '0'));
  m.set(7, transmissionTime(now));
  m.set(11, String(++stanSeq).padStart(6, '0'));
  m.set(12, '120000');
  m.set(13, '0101');
  m.set(22, '051');
  m.set(25, '00');
  m.set(32, '123456');
  m.set(35, c.track2);
  m.set(37, `PCI${String(++rrnSeq).padStart(9, '0')}`);
  m.set(41, terminal);
  m.set(42, 'MERCHANT0000001');
  m.set(45, c.track1);
  m.set(49, '840');
  m.set(52, c.pinBlock);
  m.set(55, c.icc);
  return m;
}

t.test('no PAN, track, PIN block or tag 57 in the database, its WAL and the logs', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'revswitch-pci-'));
  const dbPath = join(dir, 'pci.db');
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const c of CARDS) tt.ok(luhn(c.pan, 0, c.pan.length) && c.pan.length >= 13 && c.pan.length <= 19, `${maskPan(c.pan)}: Luhn-valid, ${c.pan.length} digits`);
  tt.equal(new Set(CARDS.map((c) => maskPan(c.pan))).size, CARDS.length, 'the masked PANs are distinct');

  // approveRate 1: every normal amount is approved. ..99 approved but never answered (a
  // timeout), ..68 answered after lateMs, ..96 an unknown outcome; a third of the 0410s
  // are dropped, so reversals are stored as sent and repeated as 0401.
  const issuer = await startIssuer({ seed: 7, approveRate: 1, latencyMs: 20, lateMs: 700, reversalDropRate: 0.3 });
  tt.teardown(() => issuer.close());

  // Five undos per card here: the default velocity limit (3 per card) would send the rest
  // to review, and this test wants them stored as reversals.
  const rulesFile = join(dir, 'rules.yaml');
  const rulesText = readFileSync(defaultRulesPath(), 'utf8').replace(/maxPerCard: \d+/, 'maxPerCard: 1000');
  if (!rulesText.includes('maxPerCard: 1000')) throw new Error('rules/default.yaml: maxPerCard not found');
  writeFileSync(rulesFile, rulesText);

  const logs: string[] = [];
  const cfg = defaultConfig();
  cfg.rules = rulesFile;
  Object.assign(cfg.listeners[0], { port: 0 });
  cfg.store = `sqlite:${dbPath}`;
  cfg.panHashKey = PAN_KEY;
  cfg.logLevel = 'debug';
  cfg.tickMs = 5;
  cfg.reversal = { ...cfg.reversal, responseTimeoutMs: 300, backoffMs: [50, 100] };
  cfg.upstreams.push({
    name: 'issuer', ...UPSTREAM_DEFAULTS, host: '127.0.0.1', port: issuer.port, timeoutMs: UPSTREAM_TIMEOUT_MS, reconnectBackoffMs: [50, 100],
  });
  const running = await startSwitch(cfg, createLogger('debug', (line) => { logs.push(line); }));
  let stopped = false;
  const clients: SimClient[] = [];
  tt.teardown(async () => {
    await Promise.all(clients.map((c) => c.close()));
    if (!stopped) await running.stop();
  });
  const sw = running.sw;
  tt.ok(await sw.waitUntilUp(10_000), 'the issuer link is up');
  const port = sw.ports()[0];
  const client = async (): Promise<SimClient> => {
    const c = await connectClient({ port });
    clients.push(c);
    return c;
  };

  const ctl = await client();
  const expectLate = CARDS.length;
  await Promise.all(CARDS.map(async (c, i) => {
    const terminal = `PCITRM${String(i + 1).padStart(2, '0')}`;
    const chip = sale(c, '1000', terminal);
    const kept = sale(c, '7000', terminal);
    const answers = await Promise.all([
      ctl.request(chip, 5000), // approved, then reversed by the chip below
      ctl.request(kept, 5000), // approved and kept
      ctl.request(sale(c, '2099', terminal), 5000), // approved, never answered: times out
      ctl.request(sale(c, '3068', terminal), 5000), // approved late: times out, the late answer is logged
      ctl.request(sale(c, '4096', terminal), 5000), // 96: outcome unknown, reversed
    ]);
    tt.same(answers.map((a) => a.get(39)), ['00', '00', '91', '91', '96'], `${maskPan(c.pan)}: approved twice, timed out, late, unknown outcome`);
    // Nor does the switch keep sensitive authentication data in memory once forwarded.
    const txn = sw.txns.get(`${kept.get(32)}/${terminal}|${kept.get(11)}|${kept.get(7)}`);
    tt.ok(txn, `${maskPan(c.pan)}: the kept sale is in the transaction table`);
    tt.same([35, 36, 45, 52, 55].filter((n) => txn?.request.has(n) || txn?.sent?.has(n)), [],
      `${maskPan(c.pan)}: no track, PIN or ICC data kept in memory after forwarding`);

    // The chip declines the approved sale: the terminal's own 0400 (with the PAN, as terminals send it).
    const rev = reversalOf(D, chip, { reason: '06', stan: String(++stanSeq).padStart(6, '0'), transmissionDateTime: transmissionTime(Date.now()) });
    tt.equal((await ctl.request(rev, 5000)).get(39), '00', `${maskPan(c.pan)}: the terminal's reversal answered`);

    // A terminal that hangs up before its approval: undeliverable, reversed by the switch.
    const gone = await client();
    const lost = sale(c, '5000', terminal);
    const upstream = issuer.waitFor((e) => e.msg.get(37) === lost.get(37), 5000);
    gone.send(lost);
    await gone.close();
    await upstream;

    // A malformed sale (F49 not alphanumeric, after F2, F35 and F45) carrying card data: rejected 30.
    const bad = sale(c, '6000', terminal);
    const bytes = Buffer.from(frame('len2', encode(D, bad)));
    const at = bytes.indexOf(`${c.track1}840`, 0, 'latin1') + c.track1.length;
    if (at < c.track1.length) throw new Error('F49 not found in the encoded sale');
    bytes.write('8#0', at, 'latin1');
    const reject = ctl.waitFor((m) => m.get(11) === bad.get(11), 5000);
    ctl.sendRaw(bytes);
    tt.equal((await reject).get(39), '30', `${maskPan(c.pan)}: a malformed sale is rejected 30`);
  }));

  // Let late answers and every reversal (with repeats for dropped 0410s) settle.
  await until(() => sw.counters.get('undeliverable') >= CARDS.length, 'every hung-up sale found undeliverable', 20_000, 20);
  await until(() => sw.counters.get('late_responses') >= expectLate, 'every late answer', 20_000, 20);
  await until(() => sw.reversals.outstanding === 0, 'every reversal acknowledged', 20_000, 20);
  await running.store.flush();
  const c = sw.counters;
  tt.ok(c.get('reversal_repeats_sent') > 0, `some reversals were repeated as 0401: ${c.get('reversal_repeats_sent')}`);
  tt.ok(c.get('decode_errors') >= CARDS.length, 'the malformed sales were seen');

  const keys = new CardKeys(Buffer.from(PAN_KEY, 'hex'));

  // The rows say something about these cards: masked PAN, keyed hash, a sealed PAN that opens.
  const rows = await running.store.recentTxns(0);
  const reversals = await running.store.reversals();
  const states = new Set(rows.map((r) => r.state));
  for (const s of ['approved', 'declined', 'timed_out', 'undeliverable', 'reversed_by_terminal', 'terminal_reversal']) {
    tt.ok(states.has(s as never), `the journal has a '${s}' row`);
  }
  for (const card of CARDS) {
    const masked = maskPan(card.pan);
    tt.match(masked, new RegExp(`^${card.pan.slice(0, 6)}\\*+${card.pan.slice(-4)}$`), `${masked}: first 6 and last 4 only`);
    const mine = rows.filter((r) => r.panMasked === masked);
    tt.ok(mine.length >= 6, `${masked}: ${mine.length} journal rows carry the masked PAN`);
    tt.ok(mine.every((r) => r.panHash === keys.panHash(card.pan)), `${masked}: every row carries the keyed hash of the PAN`);
    const row = mine.find((r) => r.sealed !== null);
    const opened = unsealMessage(D, row?.sealed ?? '', keys, row?.id ?? '');
    tt.equal(opened.get(2), card.pan, `${masked}: the sealed request opens to the PAN with the key`);
    tt.same([35, 36, 45, 52, 55].filter((n) => opened.has(n)), [], `${masked}: the sealed request holds no track, PIN or ICC data`);
    const revs = reversals.filter((r) => r.txnId !== null && mine.some((m) => m.id === r.txnId));
    tt.ok(revs.length >= 5, `${masked}: ${revs.length} reversals stored (timeout, late, 96, undeliverable, chip)`);
    for (const r of revs) {
      tt.equal(unsealMessage(D, r.original, keys, sealBinding(r)).get(2), card.pan, `${masked}: reversal ${r.state} keeps its original sealed`);
      if (r.message !== null) tt.equal(unsealMessage(D, r.message, keys, sealBinding(r)).get(2), card.pan, `${masked}: and its 0400 sealed`);
    }
  }
  tt.ok(logs.some((l) => CARDS.some((card) => l.includes(maskPan(card.pan)))), 'the log names these cards, masked');

  // The bytes: while the switch runs (the WAL holds the latest pages), then after it stops.
  const files = (when: string): [string, Buffer][] =>
    ['', '-wal', '-shm'].filter((s) => existsSync(dbPath + s)).map((s) => [`${when} pci.db${s}`, readFileSync(dbPath + s)]);
  const running1 = files('running:');
  tt.ok(running1.some(([n]) => n.endsWith('-wal')), 'a WAL file exists while the switch runs');
  await running.stop();
  stopped = true;
  const scanned: [string, Buffer][] = [...running1, ...files('stopped:'), ['log', Buffer.from(logs.join(''), 'utf8')]];

  const found: string[] = [];
  for (const [name, bytes] of scanned) {
    const text = bytes.toString('latin1');
    const upper = text.toUpperCase();
    for (const card of CARDS) {
      const m = maskPan(card.pan);
      if (text.includes(card.pan)) found.push(`${name}: full PAN ${m}`);
      if (bytes.includes(bcd(card.pan)) || bytes.includes(bcd('0' + card.pan))) found.push(`${name}: PAN ${m} in BCD`);
      if (text.includes(card.track2Tail)) found.push(`${name}: track 2 data of ${m}`);
      if (upper.includes(card.tag57.toString('hex').toUpperCase()) || bytes.includes(card.tag57)) found.push(`${name}: tag 57 of ${m}`);
      if (text.includes(card.name)) found.push(`${name}: track 1 name of ${m}`);
      if (upper.includes(card.pinBlock.toString('hex').toUpperCase()) || bytes.includes(card.pinBlock)) found.push(`${name}: PIN block of ${m}`);
      if (upper.includes(card.icc.toString('hex').toUpperCase()) || bytes.includes(card.icc)) found.push(`${name}: F55 of ${m}`);
    }
    // Whatever the card: a 13-19 digit run equal to a used PAN, the track 2 separator
    // after a PAN-length run, a track 1 "^NAME^" with an expiry.
    for (const run of text.matchAll(/\d{13,19}/g)) {
      if (CARDS.some((card) => run[0] === card.pan)) found.push(`${name}: a digit run equal to a PAN at byte ${run.index}`);
    }
    for (const m of text.matchAll(/\d{12,19}[=D]\d{4}/g)) found.push(`${name}: track 2 pattern at byte ${m.index}`);
    for (const m of text.matchAll(/\^[A-Z0-9 /.]{2,26}\^\d{4}/g)) found.push(`${name}: track 1 pattern at byte ${m.index}`);
    if (name === 'log' && text.includes('^')) found.push('log: a "^" (track 1 separator)');
  }
  tt.same(found, [], 'no card data at rest');
  tt.comment(`scanned ${scanned.map(([n, b]) => `${n} (${b.length} bytes)`).join(', ')}; ${rows.length} journal rows, ${reversals.length} reversals, ${logs.length} log lines`);
});
