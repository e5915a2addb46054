/**
 * `${KEY}` templates, evaluated within one group. `$${` is a literal `${`; any other `$` is
 * literal. Values are stored raw and expanded at resolution time, so addon rotation flows
 * through; undefined references and cycles are refused when a group is saved.
 */
import { invalid } from './errors.js';
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
    for (const ref of refs) {
      if (!Object.hasOwn(templated, ref) && !Object.hasOwn(literal, ref)) undefinedRefs.push(`${key} -> ${ref}`);
    }
  }
  if (undefinedRefs.length) {
    throw invalid(`template references an undefined key: ${undefinedRefs.join(', ')}`);
  }
  const cycle = findCycle(graph);
  if (cycle) throw invalid(`template cycle: ${cycle.join(' -> ')}`);
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
 * resolution.
 */
export function expandAll(templated: Vars, literal: Vars): Vars {
  const out: Vars = {};
  const parsed = new Map<string, Part[]>();
  for (const [key, value] of Object.entries(templated)) {
    // Fast path: most values hold no template at all.
    if (!value.includes('$')) out[key] = value;
    else parsed.set(key, parseTemplate(key, value));
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
