/**
 * RFC 4180 CSV: comma separator, fields optionally enclosed in double quotes, a double quote
 * inside a quoted field written as two, records separated by CRLF or LF (a quoted field may
 * contain line breaks). A UTF-8 byte-order mark is skipped, a final line break is optional,
 * blank lines are skipped. An empty field (quoted or not) means "missing" to the dataset layer.
 */

export class CsvError extends Error {
  readonly line: number;
  constructor(line: number, message: string) {
    super(`CSV line ${line}: ${message}`);
    this.name = 'CsvError';
    this.line = line;
  }
}

export interface CsvTable {
  header: string[];
  rows: string[][];
  /** 1-based physical line on which each row starts (the header is on line `headerLine`). */
  lines: number[];
  headerLine: number;
}

/** Parses CSV text into a header and rows of raw field strings. Throws CsvError. */
export function parseCsv(text: string): CsvTable {
  if (typeof text !== 'string') throw new TypeError('parseCsv: text must be a string');
  const records: { fields: string[]; line: number }[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const startLine = line;
    const fields: string[] = [];
    let quoted = false;
    // Parse one record.
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        quoted = true;
        const quoteLine = line;
        i++;
        for (;;) {
          if (i >= n) throw new CsvError(quoteLine, 'unterminated quoted field (missing closing ")');
          const ch = text[i]!;
          if (ch === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (ch === '\n') line++;
          field += ch;
          i++;
        }
        const next = text[i];
        if (i < n && next !== ',' && next !== '\n' && next !== '\r') {
          throw new CsvError(line, `unexpected character ${JSON.stringify(next)} after a closing quote; a quote inside a field must be doubled ("")`);
        }
      } else {
        const start = i;
        while (i < n) {
          const ch = text[i]!;
          if (ch === ',' || ch === '\n' || ch === '\r') break;
          if (ch === '"') {
            throw new CsvError(line, 'double quote inside an unquoted field; enclose the field in quotes and double the quote ("")');
          }
          i++;
        }
        field = text.slice(start, i);
      }
      fields.push(field);
      if (i >= n) break;
      const ch = text[i]!;
      if (ch === ',') {
        i++;
        continue;
      }
      if (ch === '\r') {
        if (text[i + 1] !== '\n') throw new CsvError(line, 'bare carriage return; records end with CRLF or LF');
        i += 2;
      } else {
        i++;
      }
      line++;
      break;
    }
    // A line with nothing on it is skipped; a single quoted empty field ("") is data.
    const blank = fields.length === 1 && fields[0] === '' && !quoted;
    if (!blank) records.push({ fields, line: startLine });
  }
  if (records.length === 0) throw new CsvError(1, 'empty input: expected a header row');
  const head = records[0]!;
  const header = head.fields;
  const seen = new Set<string>();
  for (const h of header) {
    if (h === '') throw new CsvError(head.line, 'empty column name in the header');
    if (seen.has(h)) throw new CsvError(head.line, `column "${h}" appears twice in the header`);
    seen.add(h);
  }
  const rest = records.slice(1);
  return { header, rows: rest.map((r) => r.fields), lines: rest.map((r) => r.line), headerLine: head.line };
}

function quoteField(f: string): string {
  return /[",\r\n]/.test(f) || f !== f.trim() ? `"${f.replaceAll('"', '""')}"` : f;
}

/** Writes a header and rows as RFC 4180 CSV (LF line ends, quoting only where needed). */
export function formatCsv(header: string[], rows: string[][]): string {
  const out = [header.map(quoteField).join(',')];
  for (const r of rows) out.push(r.map(quoteField).join(','));
  return out.join('\n') + '\n';
}
