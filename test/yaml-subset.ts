/**
 * A strict parser for the small subset of YAML that compose.yaml is written in (no YAML library is
 * among the dependencies): block mappings and block sequences indented by spaces, plain scalars,
 * double-quoted scalars and JSON-style flow collections ([…], {…}, parsed as JSON), comment
 * lines. Anything else (anchors, tags, block scalars, inline comments, tabs) is an error, so the
 * file cannot silently mean something other than what the test reads.
 */

export type YamlValue = string | number | boolean | null | YamlValue[] | { [key: string]: YamlValue };

interface Line {
  n: number;
  indent: number;
  text: string;
}

export class YamlSubsetError extends Error {}

function scalar(raw: string, n: number): YamlValue {
  const s = raw.trim();
  if (s.startsWith('[') || s.startsWith('{') || s.startsWith('"')) {
    try {
      return JSON.parse(s) as YamlValue;
    } catch (e) {
      throw new YamlSubsetError(`line ${n}: not JSON-style: ${(e as Error).message}`);
    }
  }
  if (/^[&*!|>'%@`]/.test(s) || s.includes(' #') || s.includes(': ')) throw new YamlSubsetError(`line ${n}: outside the YAML subset: ${s.slice(0, 60)}`);
  if (s === 'true' || s === 'false') return s === 'true';
  if (s === 'null' || s === '~') return null;
  if (/^-?\d+$/.test(s)) return Number(s);
  return s;
}

function block(lines: Line[], at: { i: number }, indent: number): YamlValue {
  const first = lines[at.i]!;
  if (first.text.startsWith('- ') || first.text === '-') {
    const out: YamlValue[] = [];
    while (at.i < lines.length && lines[at.i]!.indent === indent && lines[at.i]!.text.startsWith('- ')) {
      const l = lines[at.i]!;
      out.push(scalar(l.text.slice(2), l.n));
      at.i++;
    }
    return out;
  }
  const out: { [key: string]: YamlValue } = {};
  while (at.i < lines.length && lines[at.i]!.indent === indent) {
    const l = lines[at.i]!;
    const m = /^([A-Za-z0-9_.-]+):(?: (.*))?$/.exec(l.text);
    if (!m) throw new YamlSubsetError(`line ${l.n}: expected "key: value" or "key:", got ${l.text.slice(0, 60)}`);
    const key = m[1]!;
    if (key in out) throw new YamlSubsetError(`line ${l.n}: duplicate key ${key}`);
    at.i++;
    if (m[2] !== undefined && m[2].trim() !== '') {
      out[key] = scalar(m[2], l.n);
    } else {
      const next = lines[at.i];
      if (!next || next.indent <= indent) throw new YamlSubsetError(`line ${l.n}: ${key} has no value`);
      out[key] = block(lines, at, next.indent);
    }
  }
  if (at.i < lines.length && lines[at.i]!.indent > indent) throw new YamlSubsetError(`line ${lines[at.i]!.n}: unexpected indentation`);
  return out;
}

export function parseYamlSubset(text: string): YamlValue {
  const lines: Line[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.includes('\t')) throw new YamlSubsetError(`line ${i + 1}: tab`);
    const text = raw.trimEnd();
    const trimmed = text.trimStart();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    lines.push({ n: i + 1, indent: text.length - trimmed.length, text: trimmed });
  });
  if (lines.length === 0) return null;
  const at = { i: 0 };
  const v = block(lines, at, lines[0]!.indent);
  if (at.i !== lines.length) throw new YamlSubsetError(`line ${lines[at.i]!.n}: unexpected indentation`);
  return v;
}
