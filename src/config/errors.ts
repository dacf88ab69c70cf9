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

export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.issues = issues;
  }

  /** One line per issue: FILE:LINE:COL: key.path: message */
  format(): string {
    return this.issues.map(formatIssue).join('\n');
  }
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
