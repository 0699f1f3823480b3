/**
 * A minimal ISO 8583 client for tests and scripts: send a message, await its answer by
 * STAN and response MTI, with a deadline. Not a terminal simulator (see terminals.ts):
 * it adds no fields and never reverses anything on its own. Any dialect simDialect takes:
 * a UnionPay message needs its TPDU and header from the caller, as every field.
 */
import { connect } from 'node:net';
import { encode, frame, responseMti, type Dialect, type Framing, type FramingName, type IsoMessage } from '../../codec/index.js';
import { simConn, simDialect, simFraming } from './wire.js';

export interface ClientOptions {
  host?: string;
  port: number;
  /** The local address to connect from (a 127.x.y.z on loopback stands for another client machine). */
  localAddress?: string;
  dialect?: Dialect | string;
  framing?: Framing | FramingName;
}

export interface SimClient {
  /** Sends and resolves with the first answer carrying the same F11 and the response MTI. */
  request(msg: IsoMessage, timeoutMs?: number): Promise<IsoMessage>;
  /** Sends without waiting. */
  send(msg: IsoMessage): void;
  /** Writes raw bytes (framing included): for malformed-input tests. */
  sendRaw(bytes: Uint8Array): void;
  /** The first message received from now on that satisfies pred. */
  waitFor(pred: (m: IsoMessage) => boolean, timeoutMs?: number): Promise<IsoMessage>;
  /** Every message received, in arrival order. */
  readonly received: IsoMessage[];
  /** Frames that did not decode. */
  readonly undecodable: number;
  /** Resolves when the connection is gone, whoever closed it. */
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

export function connectClient(opts: ClientOptions): Promise<SimClient> {
  const dialect = simDialect(opts.dialect);
  const framing = simFraming(opts.framing);
  const received: IsoMessage[] = [];
  const waiters = new Set<(m: IsoMessage) => void>();
  let undecodable = 0;
  let resolveClosed: () => void = () => {};
  const closed = new Promise<void>((r) => { resolveClosed = r; });
  const socket = connect({ host: opts.host ?? '127.0.0.1', port: opts.port, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
  const conn = simConn(socket, dialect, framing, () => { undecodable++; });
  conn.onMessage = (m) => {
    received.push(m);
    for (const w of [...waiters]) w(m);
  };
  conn.onClose = () => resolveClosed();
  // FramedConn.send answers false for a message the codec refuses; whoever hands a test
  // client such a message wants the codec's reason, so the encode is repeated to throw it.
  const send = (msg: IsoMessage): void => {
    if (!conn.send(msg) && conn.isOpen) frame(framing, encode(dialect, msg));
  };

  const waitFor = (pred: (m: IsoMessage) => boolean, timeoutMs = 5000): Promise<IsoMessage> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`client: no matching message within ${timeoutMs} ms`));
      }, timeoutMs);
      const w = (m: IsoMessage): void => {
        if (!pred(m)) return;
        clearTimeout(timer);
        waiters.delete(w);
        resolve(m);
      };
      waiters.add(w);
    });

  const client: SimClient = {
    request(msg, timeoutMs = 5000) {
      const mti = responseMti(msg.mti);
      const stan = msg.get(11);
      const p = waitFor((m) => m.mti === mti && m.get(11) === stan, timeoutMs);
      send(msg);
      return p;
    },
    send,
    sendRaw: (bytes) => { socket.write(bytes); },
    waitFor,
    received,
    get undecodable() { return undecodable; },
    closed,
    close() {
      conn.close();
      return closed;
    },
  };
  return new Promise((resolve, reject) => {
    socket.once('connect', () => { socket.off('error', reject); resolve(client); });
    socket.once('error', reject);
  });
}
