/**
 * Where a JSON text stops being JSON, as a line and column with what was expected, and
 * nothing of the text itself. JSON.parse's own message quotes the text around the error
 * ('..."HashKey": supersecre"... is not valid JSON'), and a config file holds secrets
 * (panHashKey), so its message never reaches a log or a terminal.
 */

export interface JsonErrorPlace {
  line: number;
  column: number;
  /** What the parser expected there, in words: never a character of the text. */
  expected: string;
}

class Stop extends Error {
  constructor(readonly at: number, readonly expected: string) {
    super(expected);
  }
}

/** The first place `text` is not JSON; null when it is. */
export function jsonErrorPlace(text: string): JsonErrorPlace | null {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const literal = (word: string): void => {
    if (text.startsWith(word, i)) i += word.length;
    else throw new Stop(i, 'a value (an object, array, string, number, true, false or null)');
  };
  const string = (): void => {
    if (text[i] !== '"') throw new Stop(i, 'a double-quoted string');
    i++;
    while (i < text.length && text[i] !== '"') {
      const c = text.charCodeAt(i);
      if (c < 0x20) throw new Stop(i, 'no control character inside a string');
      if (text[i] === '\\') {
        i++;
        if (text[i] === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) throw new Stop(i, 'four hex digits after \\u');
          i += 4;
        } else if (!'"\\/bfnrt'.includes(text[i] ?? '')) throw new Stop(i, 'a valid escape after a backslash');
      }
      i++;
    }
    if (i >= text.length) throw new Stop(i, 'the closing double quote of a string');
    i++;
  };
  const number = (): void => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (m === null || m[0].length === 0) throw new Stop(i, 'a value (an object, array, string, number, true, false or null)');
    i += m[0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        string();
        ws();
        if (text[i] !== ':') throw new Stop(i, 'a colon after the key');
        i++;
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        throw new Stop(i, 'a comma or the closing brace of an object');
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        throw new Stop(i, 'a comma or the closing bracket of an array');
      }
    }
    if (c === '"') return string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    return number();
  };
  try {
    value();
    ws();
    if (i < text.length) throw new Stop(i, 'the end of the file after the value');
    return null;
  } catch (e) {
    // This check recurses: arrays or objects nested some thousands deep overflow the stack.
    // JSON.parse has refused the text already, so name the place the check reached.
    const stop = e instanceof Stop ? e : e instanceof RangeError ? new Stop(i, 'arrays and objects nested less deeply (too deep to check further)') : null;
    if (stop === null) throw e;
    const before = text.slice(0, stop.at);
    const line = before.split('\n').length;
    return { line, column: stop.at - before.lastIndexOf('\n'), expected: stop.expected };
  }
}
