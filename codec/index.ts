/** The codec's public surface. Everything else in codec/ is an implementation detail. */
export { IsoError, DialectError, type ErrorSite } from './errors.js';
export { IsoMessage, toHex, fromHex, type FieldValue, type MessageJson } from './message.js';
export { Dialect, deriveDialect } from './dialect.js';
export { getDialect, dialectFromOverrides, DIALECT_NAMES, DEFAULT_DIALECT } from './dialects/builtin.js';
export type { FieldSpec, DialectSpec, KeptFieldReason, FieldType, LengthKind, Encoding, PrefixEncoding, Pad, PartKind } from './spec.js';
export { decode, decodePartial } from './decode.js';
export { encode } from './encode.js';
export { messageFromJson } from './json.js';
export { packMessage, packDelta, unpackMessage } from './packed.js';
export { FRAMINGS, DEFAULT_FRAMING, getFraming, frame, unframe, FrameReader, type Framing, type FramingName, type FrameReaderOptions } from './framing.js';
export { parseTpdu, formatTpdu, swapTpdu, type Tpdu } from './tpdu.js';
export { parseTlv, encodeTlv, findTag, redactTlv, SENSITIVE_TAGS, type TlvItem } from './tlv.js';
export {
  parseF90, formatF90, parseF56, formatF56, parseF95, formatF95, parseCup60, formatCup60, parseCup61, formatCup61,
  type OriginalData, type OriginalData93, type ReplacementAmounts, type Cup60, type Cup61,
} from './subfields.js';
export { responseTo, responseMti, repeatOf, repeatMti, answersAnother, type RefundOptions, type ReversalOptions } from './builders.js';
export { profileOf, refundOf, reversalOf, ISO87, ISO93, CUP, LOCAL_CODES, type LocalCode, type NetCode, type OriginalRef, type Profile, type Standard } from './profiles/index.js';
export {
  MtiClass, MtiFunction, MtiOrigin, mtiVersion, mtiClass, mtiFunction, mtiOrigin,
  isResponse, isOriginating, isRepeat, isPosting, isReversal, isNetworkManagement,
} from './mti.js';
export { transmissionTime, localDateTime, stanString } from './field-formats.js';
export { maskPan, redact, redactedJson, BLANKED_FIELDS, PAN_FIELDS } from './mask.js';
export { parseAmount, MAX_AMOUNT_DIGITS } from './amount.js';
