/**
 * The errors a settlement file reader throws. A leaf module so the format readers and the
 * public entry (./settlement-file.ts, which re-exports these) need no import cycle.
 */

/**
 * A settlement file the reconciler must not use: the message names the file, the 1-based
 * line and the column (a name, a position or a fixed-width range) and the problem. A card
 * number never appears in it: values are echoed through shown().
 */
export class SettlementFileError extends Error {
  constructor(message: string, readonly line: number | null, readonly column: string | null) {
    super(message);
    this.name = 'SettlementFileError';
  }

  /**
   * `FILE line L, column C: problem`, leaving out what is not known. A column named by the
   * file's header has its long numbers hidden: a file that lacks its header row has a
   * record where the header should be, card number included.
   */
  static at(file: string, line: number | null, column: string | null, problem: string): SettlementFileError {
    const col = column === null ? null : hideLongNumbers(column);
    const where = [line === null ? null : `line ${line}`, col === null ? null : `column ${col}`].filter((w) => w !== null).join(', ');
    return new SettlementFileError(`${file}${where === '' ? '' : ` ${where}`}: ${problem}`, line, col);
  }
}

/** A mapping file that cannot be used: names the mapping file and the JSON path inside it. */
export class SettlementMappingError extends SettlementFileError {
  constructor(readonly mappingFile: string, readonly jsonPath: string, problem: string, line: number | null = null) {
    super(`${mappingFile}${jsonPath === '' ? '' : ` at ${jsonPath}`}: ${problem}`, line, null);
    this.name = 'SettlementMappingError';
  }
}

const SHOWN_MAX = 40;

/**
 * A value quoted for an error message: at most 40 characters, and any run of 13 or more
 * digits (spaces and dashes between them included) hidden, because a misaligned row can
 * put a card number into any column.
 */
export function shown(value: string): string {
  const cut = value.length > SHOWN_MAX ? `${value.slice(0, SHOWN_MAX)}…` : value;
  return JSON.stringify(hideLongNumbers(cut));
}

function hideLongNumbers(text: string): string {
  return text.replace(/\d(?:[ -]?\d){12,}/g, '(a long number, not shown)');
}
