/**
 * A strict parser of the Prometheus text exposition format (0.0.4), for tests: every sample
 * belongs to a family announced by # HELP and # TYPE before it, names and labels are valid,
 * values are numbers, histograms have ascending `le` buckets ending in +Inf with _count equal
 * to the +Inf bucket. Throws on the first problem, naming the line.
 */
export interface PromFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  samples: Array<{ name: string; labels: Record<string, string>; value: number }>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function parseLabels(text: string, lineNo: number): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error(`line ${lineNo}: bad labels {${text}}`);
    const name = text.slice(i, eq).trim();
    if (!LABEL.test(name)) throw new Error(`line ${lineNo}: bad label name "${name}"`);
    if (text[eq + 1] !== '"') throw new Error(`line ${lineNo}: label value must be quoted`);
    let j = eq + 2;
    let value = '';
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === '\\') {
        const n = text[++j];
        value += n === 'n' ? '\n' : n;
      } else value += text[j];
    }
    if (j >= text.length) throw new Error(`line ${lineNo}: unterminated label value`);
    if (name in out) throw new Error(`line ${lineNo}: label ${name} repeated`);
    out[name] = value;
    i = j + 1;
    if (text[i] === ',') i++;
  }
  return out;
}

function parseValue(s: string, lineNo: number): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) throw new Error(`line ${lineNo}: bad value "${s}"`);
  return Number(s);
}

export function parsePromText(text: string): Map<string, PromFamily> {
  const fams = new Map<string, PromFamily>();
  let current: PromFamily | undefined;
  const lines = text.split('\n');
  if (lines.at(-1) !== '') throw new Error('the exposition must end with a newline');
  lines.forEach((line, idx) => {
    const n = idx + 1;
    if (line === '') return;
    if (line.startsWith('# HELP ')) {
      const m = /^# HELP (\S+) (.*)$/.exec(line);
      if (!m || !NAME.test(m[1]!)) throw new Error(`line ${n}: bad HELP: ${line}`);
      if (fams.has(m[1]!)) throw new Error(`line ${n}: family ${m[1]} announced twice`);
      current = { name: m[1]!, help: m[2]!, type: 'untyped', samples: [] };
      fams.set(current.name, current);
      return;
    }
    if (line.startsWith('# TYPE ')) {
      const m = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (!m || !current || m[1] !== current.name) throw new Error(`line ${n}: TYPE without its HELP: ${line}`);
      current.type = m[2] as PromFamily['type'];
      return;
    }
    if (line.startsWith('#')) return;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
    if (!m) throw new Error(`line ${n}: not a sample: ${line}`);
    const name = m[1]!;
    if (!current) throw new Error(`line ${n}: sample ${name} before any HELP/TYPE`);
    const base = current.type === 'histogram' ? name.replace(/_(bucket|sum|count)$/, '') : current.type === 'summary' ? name.replace(/_(sum|count)$/, '') : name;
    if (base !== current.name) throw new Error(`line ${n}: sample ${name} outside its family (${current.name})`);
    current.samples.push({ name, labels: m[3] ? parseLabels(m[3], n) : {}, value: parseValue(m[4]!, n) });
  });
  for (const f of fams.values()) {
    if (f.type !== 'histogram') continue;
    const series = new Map<string, Array<{ le: number; v: number }>>();
    const counts = new Map<string, number>();
    for (const s of f.samples) {
      const { le, ...rest } = s.labels;
      const key = JSON.stringify(rest);
      if (s.name.endsWith('_bucket')) {
        if (le === undefined) throw new Error(`${f.name}: bucket without le`);
        (series.get(key) ?? series.set(key, []).get(key)!).push({ le: parseValue(le, 0), v: s.value });
      } else if (s.name.endsWith('_count')) counts.set(key, s.value);
    }
    for (const [key, buckets] of series) {
      for (let i = 1; i < buckets.length; i++) {
        if (!(buckets[i]!.le > buckets[i - 1]!.le)) throw new Error(`${f.name}${key}: le not ascending`);
        if (buckets[i]!.v < buckets[i - 1]!.v) throw new Error(`${f.name}${key}: bucket counts decrease`);
      }
      if (buckets.at(-1)!.le !== Infinity) throw new Error(`${f.name}${key}: no +Inf bucket`);
      if (counts.get(key) !== buckets.at(-1)!.v) throw new Error(`${f.name}${key}: _count differs from the +Inf bucket`);
    }
  }
  return fams;
}
