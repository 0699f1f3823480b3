/**
 * The MTI digits by name (codec/mti.ts) and the profile of each standard
 * (codec/profiles/): the codes the switch answers with itself, network management, where
 * a reversal names its original and carries its reason.
 */
import t from 'tap';
import {
  CUP, formatF56, formatF90, getDialect, IsoMessage, ISO87, ISO93, isOriginating, isPosting, isRepeat, isResponse, isReversal,
  isNetworkManagement, LOCAL_CODES, MtiClass, mtiClass, MtiFunction, mtiFunction, MtiOrigin, mtiOrigin, mtiVersion, profileOf,
} from '../codec/index.js';

t.test('MTI digits by name', async (tt) => {
  tt.equal(mtiVersion('1200'), 1);
  tt.equal(mtiClass('0420'), MtiClass.Reversal);
  tt.equal(mtiFunction('0420'), MtiFunction.Advice);
  tt.equal(mtiOrigin('0421'), MtiOrigin.AcquirerRepeat);
  tt.ok(isResponse('0210') && isResponse('0430') && !isResponse('0200'));
  tt.ok(isOriginating('0800') && !isOriginating('0810'));
  tt.ok(isRepeat('0401') && !isRepeat('0400'));
  tt.ok(isPosting('0100') && isPosting('1200') && !isPosting('0400'));
  tt.ok(isReversal('1420') && isNetworkManagement('1804'));
  tt.equal(mtiClass('0X00'), -1, 'a non-digit reads as -1');
  tt.notOk(isResponse(''), 'an empty MTI is nothing');
});

t.test('each dialect follows its standard\'s profile', async (tt) => {
  tt.equal(profileOf(getDialect('iso87a')), ISO87);
  tt.equal(profileOf(getDialect('iso87b')), ISO87);
  tt.equal(profileOf(getDialect('iso93a')), ISO93);
  tt.equal(profileOf(getDialect('cup')), CUP);
  for (const p of [ISO87, ISO93, CUP]) tt.same(Object.keys(p.localCodes).sort(), [...LOCAL_CODES].sort(), `${p.standard}: a code for every local outcome`);
  tt.same([ISO87.localCodes.no_route, ISO93.localCodes.no_route, CUP.localCodes.no_route], ['92', '908', '15'], 'no route');
  tt.same([ISO87.localCodes.issuer_unavailable, ISO93.localCodes.issuer_unavailable], ['91', '907']);
  tt.same([ISO87.reasonField, ISO93.reasonField, CUP.reasonField], [39, 25, 39], 'where a reversal carries its reason');
});

t.test('network management round-trips through each profile', async (tt) => {
  const d87 = getDialect('iso87a');
  const d93 = getDialect('iso93a');
  const dCup = getDialect('cup');
  const m87 = ISO87.networkRequest(d87, 'echo', '000042', Date.UTC(2026, 2, 14, 10, 15, 0));
  tt.same(m87.toJSON(), { mti: '0800', 7: '0314101500', 11: '000042', 70: '301' });
  tt.equal(ISO87.networkCode(m87), 'echo');
  const m93 = ISO93.networkRequest(d93, 'sign_on', '000001', 0);
  tt.equal(m93.mti, '1804');
  tt.equal(m93.get(24), '801');
  tt.equal(ISO93.networkCode(m93), 'sign_on');
  const mCup = CUP.networkRequest(dCup, 'sign_on', '000001', 0);
  tt.equal(mCup.get(60), '00000000001', 'UnionPay: F60.3 after 60.1 and 60.2');
  tt.equal(CUP.networkCode(mCup), 'sign_on');
  tt.equal(ISO87.networkCode(new IsoMessage('0800', { 70: '999' })), undefined, 'an unknown function');
});

t.test('where a reversal names its original', async (tt) => {
  const f90 = formatF90({ mti: '0200', stan: '000123', transmissionDateTime: '0314101500', acquirer: '123456' });
  tt.same(ISO87.originalOf(new IsoMessage('0400', { 90: f90 })), { mti: '0200', stan: '000123', timeField: 7, time: '0314101500', acquirer: '00000123456' });
  tt.equal(ISO87.originalOf(new IsoMessage('0400', { 90: '12345' })), undefined, 'a malformed F90 names nothing');
  tt.equal(ISO87.originalOf(new IsoMessage('0400')), undefined, 'no F90');
  const f56 = formatF56({ mti: '1200', stan: '000123', localDateTime: '260314101500', acquirer: '123456' });
  tt.same(ISO93.originalOf(new IsoMessage('1420', { 56: f56 })), { mti: '1200', stan: '000123', timeField: 12, time: '260314101500', acquirer: '123456' });
  tt.equal(CUP.originalOf(new IsoMessage('0400', { 11: '000123' })), undefined, 'UnionPay: the reversal carries the original\'s own trace');
});

t.test('a 1993 reversal carries the rules\' reason in F25', async (tt) => {
  const d = getDialect('iso93a');
  const sale = new IsoMessage('1200', { 2: '4761739001010119', 3: '000000', 4: '000000001000', 7: '0314101500', 11: '000123', 12: '260314101500', 32: '123456', 41: 'TERM0001' });
  tt.equal(ISO93.reversalOf(d, sale, { reason: '4000' }).get(25), '4000', 'the reason where 1993 carries it');
  tt.equal(ISO93.reversalOf(d, sale, {}).get(25), '4021', 'the default: timeout waiting for response');
  tt.equal(ISO93.reversalOf(d, sale, { reason: '4000', messageReason: '4007' }).get(25), '4007', 'an explicit message reason wins');
});
