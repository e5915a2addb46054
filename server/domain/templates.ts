/**
 * `${KEY}` templates, evaluated within one group. `$${` is a literal `${`; any other `$` is
 * literal. Values are stored raw and expanded at resolution time, so addon rotation flows
 * through; undefined references and cycles are refused when a group is saved.
 */
import { echoList, invalid, precondition } from './errors.js';
import type { Vars } from './types.js';

type Part = { text: string } | { ref: string };

const REF_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Splits a value into literal text and references; throws on a malformed `${`. */
export function parseTemplate(key: string, value: string): Part[] {
  const parts: Part[] = [];
  let text = '';
  let i = 0;
  while (i < value.length) {
    const at = value.indexOf('$', i);
    if (at < 0) {
      text += value.slice(i);
      break;
    }
    text += value.slice(i, at);
    if (value.startsWith('$${', at)) {
      text += '${';
      i = at + 3;
    } else if (value.startsWith('${', at)) {
      const end = value.indexOf('}', at + 2);
      const name = end < 0 ? '' : value.slice(at + 2, end);
      if (end < 0 || !REF_RE.test(name)) {
        throw invalid(`variable ${key}: malformed template at character ${at + 1} (write $\${ for a literal \${)`);
      }
      if (text) parts.push({ text });
      text = '';
      parts.push({ ref: name });
      i = end + 1;
    } else {
      text += '$';
      i = at + 1;
    }
  }
  if (text || parts.length === 0) parts.push({ text });
  return parts;
}

export function references(key: string, value: string): string[] {
  return parseTemplate(key, value).flatMap((p) => ('ref' in p ? [p.ref] : []));
}

/**
 * Checks that every reference in `templated` names a key of `templated` or `literal`, and
 * that there is no cycle. Throws INVALID_ARGUMENT naming the keys.
 */
export function checkTemplates(templated: Vars, literal: Vars): void {
  const graph = new Map<string, string[]>();
  const undefinedRefs: string[] = [];
  for (const [key, value] of Object.entries(templated)) {
    const refs = references(key, value);
    graph.set(key, refs);
    if (refs.some((ref) => !Object.hasOwn(templated, ref) && !Object.hasOwn(literal, ref))) undefinedRefs.push(key);
  }
  if (undefinedRefs.length) {
    // Names the keys holding the bad reference, never the reference: its text may be part of a
    // secret value someone meant to write literally (`${hunter2}`).
    throw invalid(`template references an undefined key in the value of ${echoList(undefinedRefs)} (write $\${ for a literal \${)`);
  }
  const cycle = findCycle(graph);
  if (cycle) {
    const shown = cycle.length > 8 ? [...cycle.slice(0, 6), `… (${cycle.length - 1} keys)`] : cycle;
    throw invalid(`template cycle: ${shown.join(' -> ')}`);
  }
}

/**
 * UTF-8 byte size of each templated key's expansion, computed over the reference graph without
 * building a string. A size saturates at `bound + 1`, so a doubling chain (`A1=${A0}${A0}` …)
 * costs one step per reference, not its exponential expansion. A reference to a missing key
 * counts 0 and a cycle (refused at save) counts as over the bound.
 */
export function expandedSizes(templated: Vars, literal: Vars, bound: number): Map<string, number> {
  const parsed = new Map<string, Part[]>();
  for (const [key, value] of Object.entries(templated)) {
    if (value.includes('$')) parsed.set(key, parseTemplate(key, value));
  }
  return sizesOf(parsed, templated, literal, bound, Object.keys(templated));
}

function sizesOf(parsed: ReadonlyMap<string, Part[]>, templated: Vars, literal: Vars, bound: number, roots: Iterable<string>): Map<string, number> {
  const over = bound + 1;
  const sizes = new Map<string, number>();
  const visiting = new Set<string>();
  const sizeOf = (key: string): number => {
    const known = sizes.get(key);
    if (known !== undefined) return known;
    const parts = parsed.get(key);
    let n: number;
    if (!parts) {
      const plain = Object.hasOwn(templated, key) ? templated[key] : Object.hasOwn(literal, key) ? literal[key] : '';
      n = Math.min(Buffer.byteLength(plain!), over);
    } else if (visiting.has(key)) {
      return over;
    } else {
      visiting.add(key);
      n = 0;
      for (const part of parts) {
        n += 'ref' in part ? sizeOf(part.ref) : Buffer.byteLength(part.text);
        if (n > bound) {
          n = over;
          break;
        }
      }
      visiting.delete(key);
    }
    sizes.set(key, n);
    return n;
  };
  for (const key of roots) sizeOf(key);
  for (const key of sizes.keys()) if (!Object.hasOwn(templated, key)) sizes.delete(key);
  return sizes;
}

function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, 1 | 2>(); // 1 = on the stack, 2 = done
  const stack: string[] = [];
  const visit = (node: string): string[] | null => {
    state.set(node, 1);
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue; // a literal (addon alias): no outgoing edges
      const s = state.get(next);
      if (s === 1) return [...stack.slice(stack.indexOf(next)), next];
      if (s === undefined) {
        const found = visit(next);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(node, 2);
    return null;
  };
  for (const node of [...graph.keys()].sort()) {
    if (!state.has(node)) {
      const found = visit(node);
      if (found) return found;
    }
  }
  return null;
}

/**
 * Expands every value of `templated`, whose references may name other templated keys or
 * `literal` keys (addon aliases, never expanded themselves). Assumes checkTemplates passed;
 * a reference that is nevertheless missing expands to the empty string rather than failing
 * resolution. Nothing is built when the templated values would expand to more than
 * `maxBytes` in all (FAILED_PRECONDITION naming the largest key): saves refuse such a group,
 * so only data stored before that rule can get here.
 */
export function expandAll(templated: Vars, literal: Vars, maxBytes = Infinity): Vars {
  const out: Vars = {};
  const parsed = new Map<string, Part[]>();
  for (const [key, value] of Object.entries(templated)) {
    // Fast path: most values hold no template at all.
    if (!value.includes('$')) out[key] = value;
    else parsed.set(key, parseTemplate(key, value));
  }
  if (parsed.size && maxBytes !== Infinity) {
    const sizes = sizesOf(parsed, templated, literal, maxBytes, parsed.keys());
    let total = 0;
    let largest = '';
    for (const key of parsed.keys()) {
      const n = sizes.get(key)!;
      total += n;
      if (!largest || n > sizes.get(largest)!) largest = key;
    }
    if (total > maxBytes) {
      throw precondition(`variable ${largest}: templates expand to more than the limit of ${maxBytes} bytes`);
    }
  }
  const expanding = new Set<string>();
  const expand = (key: string): string => {
    const done = out[key];
    if (done !== undefined && Object.hasOwn(out, key)) return done;
    const parts = parsed.get(key);
    if (!parts) return Object.hasOwn(literal, key) ? literal[key]! : '';
    if (expanding.has(key)) return ''; // cycle: refused at save time, harmless here
    expanding.add(key);
    let value = '';
    for (const part of parts) value += 'ref' in part ? expandRef(part.ref) : part.text;
    expanding.delete(key);
    out[key] = value;
    return value;
  };
  const expandRef = (ref: string): string => {
    if (Object.hasOwn(templated, ref)) return expand(ref);
    return Object.hasOwn(literal, ref) ? literal[ref]! : '';
  };
  for (const key of parsed.keys()) expand(key);
  return out;
}
