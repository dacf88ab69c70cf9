// ConfigError: every problem found in a config file, each with its place
// (file:line:col) and dotted key path, so a person can act on it.

export interface ConfigIssue {
  file: string;
  /** 1-based; 0 when the problem concerns the whole file (e.g. unreadable). */
  line: number;
  /** 1-based; 0 together with line 0. */
  col: number;
  /** Dotted key path with array indices, e.g. services[0].real_servers[1].port; '' for none. */
  path: string;
  message: string;
}

export function formatIssue(i: ConfigIssue): string {
  const where = i.line > 0 ? `${i.file}:${i.line}:${i.col}` : i.file;
  return i.path ? `${where}: ${i.path}: ${i.message}` : `${where}: ${i.message}`;
}

/** Issues reported in full; past this a file is broken wholesale and one more line says how many were left out. */
export const MAX_REPORTED_ISSUES = 50;

export class ConfigError extends Error {
  override name = 'ConfigError';
  /** The first MAX_REPORTED_ISSUES problems, in file order. */
  readonly issues: ConfigIssue[];
  /** Problems found beyond those (0 when all are listed). */
  readonly omitted: number;

  constructor(issues: ConfigIssue[]) {
    const shown = issues.slice(0, MAX_REPORTED_ISSUES);
    const omitted = issues.length - shown.length;
    super(render(shown, omitted));
    this.issues = shown;
    this.omitted = omitted;
  }

  /** All problems found, listed or not. */
  get total(): number {
    return this.issues.length + this.omitted;
  }

  /** One line per issue: FILE:LINE:COL: key.path: message; then "and N more" if capped. */
  format(): string {
    return render(this.issues, this.omitted);
  }
}

function render(issues: ConfigIssue[], omitted: number): string {
  const lines = issues.map(formatIssue);
  if (omitted > 0) lines.push(`${issues[issues.length - 1]!.file}: and ${omitted} more problem${omitted === 1 ? '' : 's'} (fix the ones above first)`);
  return lines.join('\n');
}

/** Renders a zod/path array as services[0].real_servers[1].port. */
export function formatPath(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}
