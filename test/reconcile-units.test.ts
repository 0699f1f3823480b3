/**
 * The reconciler's pure parts: what the journal expects of a row (journal-side.ts) and
 * the same rule in the scratch database's SQL (scratch.ts), held against each other for
 * every state and reversal state; and the classifier's verdicts one case at a time.
 */
import fc from 'fast-check';
import t from 'tap';
import { classifyRefund, classifySale, type FileEntry, type JournalEntry } from '../switch/recon/classify.js';
import { expectationOf } from '../switch/recon/journal-side.js';
import { Scratch } from '../switch/recon/scratch.js';
import type { JournalState, ReconJournalRow, ReversalState } from '../switch/store/types.js';

const STATES: JournalState[] = ['forwarded', 'approved', 'declined', 'timed_out', 'undeliverable', 'reversed_by_terminal', 'not_sent', 'recovered'];
const REV: (ReversalState | null)[] = [null, 'pending', 'sent', 'acked', 'manual', 'cancelled', 'resolved'];
const n12 = (v: number): string => String(v).padStart(12, '0');

t.test('the SQL expectation is journal-side.ts\'s, for every state, reversal state and amount', (tt) => {
  const scratch = new Scratch();
  tt.teardown(() => scratch.close());
  const amount = fc.option(fc.integer({ min: 0, max: 999_999_999_999 }).map(n12), { nil: null });
  fc.assert(fc.property(fc.constantFrom(...STATES), fc.constantFrom(...REV), amount, amount, amount, (state, rev, asked, approved, final) => {
    const row: ReconJournalRow = {
      id: 't', mti: '0200', state, rrn: null, terminal: null, upstream: null, upstreamStan: null, f7: null, amount: asked, approvedAmount: approved, currency: '978',
      createdAt: 0, reversalId: rev === null ? null : 'r', reversalState: rev, reversalFinal: final,
    };
    const ts = expectationOf(row);
    const sql = scratch.expectationOf(row);
    return ts.asked === sql.asked && ts.expected === sql.expected && ts.kept === sql.kept && ts.undone === sql.undone &&
      ts.reversalAcked === sql.reversalAcked && ts.undoInFlight === sql.undoInFlight;
  }), { numRuns: 2000 });
  tt.end();
});

const journal = (over: Partial<JournalEntry>): JournalEntry => ({
  kind: 'sale', txnId: 't1', undoId: null, undoState: null, state: 'approved', rrn: 'R1', terminal: 'T1', stan: '000001', f7: '1203100000', currency: '978',
  expected: 1000, asked: 1000, kept: true, undone: false, reversalAcked: false, undoInFlight: false, ...over,
});
const rec = (type: FileEntry['type'], amount: number, line = 2, currency = '978'): FileEntry => ({ line, type, amount, currency, rrn: 'R1', terminal: 'T1', stan: '000001', f7: '1203100000' });

t.test('the classifier', (tt) => {
  tt.equal(classifySale(journal({}), [rec('sale', 1000)]).main.cls, 'matched', 'kept and settled');
  tt.equal(classifySale(journal({}), [rec('sale', 1000, 2, '840')]).main.cls, 'amount_mismatch', 'another currency is not a match');
  tt.equal(classifySale(journal({}), []).main.cls, 'missing_at_issuer', 'kept, not settled');
  const twice = classifySale(journal({}), [rec('sale', 1000, 2), rec('sale', 1000, 3)]);
  tt.same([twice.main.cls, twice.main.fileLines, twice.duplicates.map((d) => [d.cls, d.fileLines, d.actionAmount])], ['matched', [2], [['duplicate_in_file', [3], 1000]]], 'the first is the sale, the second a duplicate');
  const other = classifySale(journal({}), [rec('sale', 900, 2), rec('sale', 1000, 3)]);
  tt.same([other.main.cls, other.main.fileLines], ['matched', [3]], 'the record with the expected amount is the sale, whatever its place');
  const undone = { expected: 0, kept: false, undone: true, state: 'timed_out' };
  tt.equal(classifySale(journal({ ...undone, reversalAcked: true, undoState: 'acked' }), [rec('sale', 1000)]).main.cls, 'reversal_not_applied');
  const pbu = classifySale(journal({ ...undone, undoState: 'manual' }), [rec('sale', 1000)]).main;
  tt.same([pbu.cls, pbu.action, pbu.actionAmount], ['posted_but_undone', 'refund', 1000]);
  const inFlight = classifySale(journal({ ...undone, undoState: 'sent', undoInFlight: true }), [rec('sale', 1000)]).main;
  tt.same([inFlight.cls, inFlight.action], ['posted_but_undone', 'review'], 'never a refund while the reversal may still land');
  tt.equal(classifySale(journal({ ...undone, reversalAcked: true }), [rec('sale', 1000), rec('reversal', 1000)]).main.cls, 'matched', 'a sale and its reversal net to zero');
  tt.equal(classifySale(journal({ ...undone, reversalAcked: true }), []).main.cls, 'matched', 'nothing posted, nothing settled');
  tt.equal(classifySale(journal({ expected: 0, kept: false, state: 'declined' }), []).main.cls, 'matched', 'a decline settles nothing');
  tt.equal(classifySale(journal({}), [rec('sale', 1100)]).main.cls, 'amount_mismatch');
  const tooMuch = classifySale(journal({ ...undone, undoState: 'manual' }), [rec('sale', 1500)]).main;
  tt.same([tooMuch.cls, tooMuch.action, tooMuch.actionAmount], ['posted_but_undone', 'review', 1000], 'a file settling more than the sale was for: no automatic refund above the original');
  tt.equal(classifySale(journal({ ...undone, reversalAcked: true, expected: 600 }), [rec('sale', 1000), rec('reversal', 400)]).main.cls, 'matched', 'a partial reversal: the final amount settles');
  const refund = journal({ kind: 'refund', undoId: 'refund|x', undoState: 'acked', state: null, expected: 300, asked: 300 });
  tt.equal(classifyRefund(refund, [rec('refund', 300)]).main.cls, 'matched');
  tt.equal(classifyRefund(refund, []).main.cls, 'missing_at_issuer', 'an acknowledged refund the file does not carry');
  const dupRefund = classifyRefund(refund, [rec('refund', 300, 2), rec('refund', 300, 3)]);
  tt.same([dupRefund.duplicates[0]?.cls, dupRefund.duplicates[0]?.actionAmount], ['duplicate_in_file', null], 'a refund settled twice: a person raises it; nothing is refunded');
  tt.end();
});
