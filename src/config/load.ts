// Reads a YAML config, validates it (schema, then cross-field rules) and
// returns it with defaults, deep-frozen; every problem becomes FILE:LINE:COL.
import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isNode, isScalar, parseDocument } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import { z } from 'zod';
import { ConfigError, formatPath } from './errors';
import type { ConfigIssue } from './errors';
import { checkConfig, configSchema, describeValue } from './schema';
import type { Config, ConfigPath } from './schema';

/** Reads and validates FILE; throws ConfigError listing every problem. */
export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError([{ file, line: 0, col: 0, path: '', message: `cannot read config: ${(e as Error).message}` }]);
  }
  return parseConfig(text, file);
}

/** Validates YAML TEXT; FILE is used only in error messages. */
export function parseConfig(text: string, file: string): Config {
  // Before the parser sees it: thousands of nested [ or { overflow its stack,
  // and when that lands inside V8's regexp compiler V8 aborts the process
  // (a gateway reloading such a file would die instead of refusing it).
  const deep = tooDeep(text);
  if (deep) {
    throw new ConfigError([{ file, ...deep, path: '', message: `expected at most ${MAX_FLOW_DEPTH} nested [ ] or { }, got deeper nesting here (a config needs a few levels)` }]);
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number): { line: number; col: number } => {
    const p = lc.linePos(offset);
    // line 0 means "before the first newline was seen", i.e. the first line.
    return p.line === 0 ? { line: 1, col: offset + 1 } : p;
  };

  // A broken document would only produce confusing schema errors: stop here.
  if (doc.errors.length > 0) {
    throw new ConfigError(
      sortIssues(
        doc.errors.map((e) => ({
          file,
          ...at(e.pos[0]),
          path: '',
          message: `YAML syntax error: ${e.code === 'MULTIPLE_DOCS' ? 'a config file holds exactly one document (found a second "---")' : e.message}`,
        })),
      ),
    );
  }

  let input: unknown;
  try {
    input = doc.toJS();
  } catch (e) {
    throw new ConfigError([{ file, line: 1, col: 1, path: '', message: `YAML error: ${(e as Error).message}` }]);
  }

  const locate = new Locator(doc, at);
  const result = configSchema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(sortIssues(result.error.issues.flatMap((i) => fromZodIssue(i, input, locate, file))));
  }
  // Cross-field rules only make sense once every field has its type.
  const rules = checkConfig(result.data);
  if (rules.length > 0) {
    throw new ConfigError(sortIssues(rules.map((r) => ({ file, ...locate.value(r.path), path: formatPath(r.path), message: r.message }))));
  }
  return deepFreeze(result.data);
}

// --- nesting -------------------------------------------------------------------

export const MAX_FLOW_DEPTH = 64;

/**
 * Where flow collections ([ ], { }) first nest deeper than MAX_FLOW_DEPTH, as
 * line:col, or null. A linear scan that skips quoted scalars and comments;
 * brackets inside plain scalars count too, which only makes it stricter.
 */
function tooDeep(text: string): { line: number; col: number } | null {
  let depth = 0;
  let line = 1;
  let col = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    col++;
    if (ch === '\n' || (ch === '\r' && text[i + 1] !== '\n')) {
      line++;
      col = 0;
    } else if (ch === '#' && (i === 0 || /\s/.test(text[i - 1]!))) {
      while (i + 1 < text.length && text[i + 1] !== '\n' && text[i + 1] !== '\r') i++;
    } else if ((ch === '"' || ch === "'") && (i === 0 || /[\s[{,]/.test(text[i - 1]!))) {
      // A quoted scalar: to its closing quote ('' and \" escape), counting lines.
      for (i++; i < text.length; i++) {
        const c = text[i]!;
        col++;
        if (c === '\n') {
          line++;
          col = 0;
        } else if (ch === '"' && c === '\\') {
          i++;
          col++;
        } else if (c === ch) {
          if (ch === "'" && text[i + 1] === "'") {
            i++;
            col++;
          } else break;
        }
      }
    } else if (ch === '[' || ch === '{') {
      if (++depth > MAX_FLOW_DEPTH) return { line, col };
    } else if ((ch === ']' || ch === '}') && depth > 0) {
      depth--;
    }
  }
  return null;
}

// --- positions ----------------------------------------------------------------

type Pos = { line: number; col: number };

/** Maps a key path to the YAML node that holds it (or its nearest ancestor). */
class Locator {
  constructor(
    private readonly doc: Document,
    private readonly at: (offset: number) => Pos,
  ) {}

  /** The deepest node on PATH that exists in the file. Defaulted keys are absent, so fall back upward. */
  private node(path: ConfigPath): YamlNode | null {
    for (let n = path.length; n >= 0; n--) {
      const node = this.doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) return node;
    }
    return null;
  }

  value(path: ConfigPath): Pos {
    const node = this.node(path);
    return node?.range ? this.at(node.range[0]) : { line: 1, col: 1 };
  }

  /** A missing key: point at the map that should hold it. */
  parent(path: ConfigPath): Pos {
    return this.value(path.slice(0, -1));
  }

  /** An unknown key: point at the key itself. */
  key(mapPath: ConfigPath, key: string): Pos {
    const map = this.doc.getIn(mapPath, true);
    if (isMap(map)) {
      for (const pair of map.items) {
        if (isScalar(pair.key) && String(pair.key.value) === key && pair.key.range) return this.at(pair.key.range[0]);
      }
    }
    return this.value(mapPath);
  }
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return issues.map((x, i) => ({ x, i })).sort((a, b) => a.x.line - b.x.line || a.x.col - b.x.col || a.i - b.i).map((e) => e.x);
}

// --- zod issue -> message ---------------------------------------------------

function valueAt(input: unknown, path: ConfigPath): unknown {
  let v = input;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

const TYPE_NAMES: Record<string, string> = { object: 'map', array: 'list' };

function typedValue(v: unknown): string {
  if (typeof v === 'string') return `string ${JSON.stringify(v)}`;
  if (typeof v === 'number') return `number ${v}`;
  if (typeof v === 'boolean') return `boolean ${v}`;
  return describeValue(v);
}

function fromZodIssue(issue: z.ZodIssue, input: unknown, locate: Locator, file: string): ConfigIssue[] {
  const path = issue.path;
  const value = valueAt(input, path);
  const make = (pos: Pos, p: ConfigPath, message: string): ConfigIssue => ({ file, ...pos, path: formatPath(p), message });

  switch (issue.code) {
    case z.ZodIssueCode.unrecognized_keys: {
      const allowed = keysAt(configSchema, path);
      return issue.keys.map((k) => {
        const hint = allowed ? closest(k, allowed) : null;
        const expected = allowed ? `one of ${allowed.join(', ')}` : 'a known key';
        return make(locate.key(path, k), [...path, k], `expected ${expected}, got unknown key ${JSON.stringify(k)}${hint ? ` (did you mean "${hint}"?)` : ''}`);
      });
    }
    case z.ZodIssueCode.invalid_type: {
      // Enums report their expected type as "'tcp' | 'udp'".
      const expected = issue.expected.includes(' | ')
        ? `one of ${issue.expected.replace(/'/g, '').split(' | ').join(', ')}`
        : (TYPE_NAMES[issue.expected] ?? issue.expected);
      if (value === undefined && path.length > 0) {
        return [make(locate.parent(path), path, `expected ${expected}, got nothing (required key is missing)`)];
      }
      const got = path.length === 0 && value == null ? 'an empty document' : typedValue(value);
      return [make(locate.value(path), path, `expected ${expected}, got ${got}`)];
    }
    case z.ZodIssueCode.invalid_enum_value:
      return [make(locate.value(path), path, `expected one of ${issue.options.join(', ')}, got ${typedValue(value)}`)];
    case z.ZodIssueCode.too_small:
    case z.ZodIssueCode.too_big: {
      const small = issue.code === z.ZodIssueCode.too_small;
      const bound = Number(small ? (issue as z.ZodTooSmallIssue).minimum : (issue as z.ZodTooBigIssue).maximum);
      const cmp = issue.exact ? 'exactly' : small ? (issue.inclusive ? 'at least' : 'more than') : issue.inclusive ? 'at most' : 'fewer than';
      if (issue.type === 'array' && Array.isArray(value)) {
        const expected = small && bound === 1 && !issue.exact ? 'a non-empty list' : `${cmp} ${bound} item${bound === 1 ? '' : 's'}`;
        return [make(locate.value(path), path, `expected ${expected}, got ${value.length === 0 ? 'an empty list' : `${value.length} items`}`)];
      }
      return [make(locate.value(path), path, `expected ${issue.type} ${cmp} ${bound}, got ${typedValue(value)}`)];
    }
    case z.ZodIssueCode.custom: {
      // A record's key failed its own check (a bad pool name): point at the key.
      const last = path[path.length - 1];
      if (typeof last === 'string' && schemaAt(configSchema, path.slice(0, -1)) instanceof z.ZodRecord) {
        return [make(locate.key(path.slice(0, -1), last), path, issue.message)];
      }
      return [make(locate.value(path), path, issue.message)];
    }
    default:
      return [make(locate.value(path), path, `${issue.message}, got ${typedValue(value)}`)];
  }
}

/** The keys the schema allows for the map at PATH, for "did you mean". */
function keysAt(schema: z.ZodTypeAny, path: ConfigPath): string[] | null {
  const s = schemaAt(schema, path);
  return s instanceof z.ZodObject ? Object.keys(s.shape) : null;
}

/** The (unwrapped) schema that validates the value at PATH. */
function schemaAt(schema: z.ZodTypeAny, path: ConfigPath): z.ZodTypeAny | null {
  let s: z.ZodTypeAny | undefined = unwrap(schema);
  for (const seg of path) {
    if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodTypeAny>)[String(seg)];
    else if (s instanceof z.ZodArray) s = s.element;
    else if (s instanceof z.ZodTuple) s = (s.items as z.ZodTypeAny[])[Number(seg)];
    else if (s instanceof z.ZodRecord) s = s.valueSchema;
    else return null;
    if (!s) return null;
    s = unwrap(s);
  }
  return s;
}

function unwrap(s: z.ZodTypeAny): z.ZodTypeAny {
  for (;;) {
    if (s instanceof z.ZodDefault) s = s._def.innerType;
    else if (s instanceof z.ZodEffects) s = s.innerType();
    else if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap();
    else return s;
  }
}

/** The allowed key nearest to a typo, if it is near enough to be a typo. */
function closest(key: string, allowed: string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const a of allowed) {
    const d = editDistance(key.toLowerCase(), a.toLowerCase());
    if (d < bestD) [best, bestD] = [a, d];
  }
  return bestD <= Math.max(1, Math.floor(key.length / 3)) ? best : null;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}
