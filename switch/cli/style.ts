/**
 * Output for a person: aligned tables, and a little colour when a person is looking,
 * i.e. stdout is a terminal and NO_COLOR (https://no-color.org) is unset. Anything read by
 * a program (a pipe, a file, a test) gets plain text, the same bytes as before.
 */

export interface ColourContext {
  isTTY?: boolean;
  env: Readonly<Record<string, string | undefined>>;
}

/** Colour only for a terminal, and not when NO_COLOR is set (to anything) or the terminal is dumb. */
export function colourWanted(c: ColourContext): boolean {
  return c.isTTY === true && c.env.NO_COLOR === undefined && c.env.TERM !== 'dumb';
}

/** The decision for this process's stdout. */
export function stdoutColour(): boolean {
  return colourWanted({ isTTY: process.stdout.isTTY, env: process.env });
}

export type Paint = 'bold' | 'red' | 'green' | 'yellow' | 'dim';
const CODES: Record<Paint, string> = { bold: '1', red: '31', green: '32', yellow: '33', dim: '2' };

export function paint(text: string, how: Paint, on: boolean): string {
  return on && text !== '' ? `\x1b[${CODES[how]}m${text}\x1b[0m` : text;
}

export interface TableOptions {
  /** The first row is a header (bold with colour). */
  header?: boolean;
  colour?: boolean;
  /** A colour for a cell, if any; applied after padding, so escapes never skew the columns. */
  cell?: (value: string, column: number, row: number) => Paint | null;
}

/** Columns padded to their widest cell, two spaces apart, no trailing blanks. */
export function alignTable(rows: readonly (readonly string[])[], o: TableOptions = {}): string {
  const cols = Math.max(0, ...rows.map((r) => r.length));
  const widths = Array.from({ length: cols }, (_, c) => Math.max(0, ...rows.map((r) => (r[c] ?? '').length)));
  const on = o.colour === true;
  return rows.map((r, ri) => {
    const last = r.length - 1;
    const cells = r.map((v, c) => {
      const padded = c === last ? v : v.padEnd(widths[c]);
      const how = ri === 0 && o.header ? 'bold' : (o.cell?.(v, c, ri) ?? null);
      if (how === null || !on) return padded;
      // The padding stays outside the escapes: a painted cell is as wide as a plain one.
      return paint(v, how, true) + padded.slice(v.length);
    });
    return cells.join('  ').trimEnd();
  }).join('\n');
}
