// Config problems: a stable code, the dotted path, and the source position, collected (never
// thrown) so one run of `fleetcol validate` reports everything that is wrong.

/** Where a node came from: a file position, or a `--set` argument (no line). */
export interface Loc {
  /** File name as given on the command line, or `--set a.b.c`. */
  source: string;
  /** Order of the source (files in order, then sets): errors are sorted by it. */
  order: number;
  line?: number;
  col?: number;
}

export interface ConfigProblem {
  /** Stable, e.g. FLEETCOL_CONFIG_UNKNOWN_TYPE. */
  code: string;
  /** Dotted path, e.g. `exporters.sse.auth.jwt`; '' for the whole document. */
  path: string;
  /** `fleetcol.yaml:14:5`, or `--set a.b.c`. */
  location?: string;
  message: string;
}

export const Code = {
  NoFiles: 'FLEETCOL_CONFIG_NO_FILES',
  Read: 'FLEETCOL_CONFIG_READ',
  Yaml: 'FLEETCOL_CONFIG_YAML',
  BadSet: 'FLEETCOL_CONFIG_BAD_SET',
  EnvSyntax: 'FLEETCOL_CONFIG_ENV_SYNTAX',
  EnvUnset: 'FLEETCOL_CONFIG_ENV_UNSET',
  NotAMap: 'FLEETCOL_CONFIG_NOT_A_MAP',
  UnknownKey: 'FLEETCOL_CONFIG_UNKNOWN_KEY',
  Unsupported: 'FLEETCOL_CONFIG_UNSUPPORTED',
  BadId: 'FLEETCOL_CONFIG_BAD_ID',
  UnknownType: 'FLEETCOL_CONFIG_UNKNOWN_TYPE',
  Invalid: 'FLEETCOL_CONFIG_INVALID',
  BadDuration: 'FLEETCOL_CONFIG_BAD_DURATION',
  BadSize: 'FLEETCOL_CONFIG_BAD_SIZE',
  BadEndpoint: 'FLEETCOL_CONFIG_BAD_ENDPOINT',
  Schema: 'FLEETCOL_CONFIG_BAD_SCHEMA',
  NoService: 'FLEETCOL_CONFIG_NO_SERVICE',
  NoPipelines: 'FLEETCOL_CONFIG_NO_PIPELINES',
  UnknownSignal: 'FLEETCOL_CONFIG_UNKNOWN_SIGNAL',
  PipelineIncomplete: 'FLEETCOL_CONFIG_PIPELINE_INCOMPLETE',
  Undefined: 'FLEETCOL_CONFIG_UNDEFINED_COMPONENT',
  Duplicate: 'FLEETCOL_CONFIG_DUPLICATE',
  UnsupportedSignal: 'FLEETCOL_CONFIG_UNSUPPORTED_SIGNAL',
  Unused: 'FLEETCOL_CONFIG_UNUSED',
  HeldBeforeQueue: 'FLEETCOL_CONFIG_HELD_BEFORE_PERSISTENT_QUEUE',
} as const;

export function formatLoc(loc: Loc | undefined): string | undefined {
  if (!loc) return undefined;
  return loc.line === undefined ? loc.source : `${loc.source}:${loc.line}:${loc.col}`;
}

interface Entry {
  problem: ConfigProblem;
  loc: Loc | undefined;
  seq: number;
}

/** Collects errors and warnings; sorted by source order, then line, then column. */
export class Problems {
  private readonly errs: Entry[] = [];
  private readonly warns: Entry[] = [];
  private seq = 0;

  error(code: string, path: string, loc: Loc | undefined, message: string): void {
    this.errs.push(this.entry(code, path, loc, message));
  }

  warn(code: string, path: string, loc: Loc | undefined, message: string): void {
    this.warns.push(this.entry(code, path, loc, message));
  }

  get errorCount(): number {
    return this.errs.length;
  }

  errors(): ConfigProblem[] {
    return sorted(this.errs);
  }

  warnings(): ConfigProblem[] {
    return sorted(this.warns);
  }

  private entry(code: string, path: string, loc: Loc | undefined, message: string): Entry {
    const problem: ConfigProblem = { code, path, message };
    const location = formatLoc(loc);
    if (location !== undefined) problem.location = location;
    return { problem, loc, seq: this.seq++ };
  }
}

function sorted(entries: Entry[]): ConfigProblem[] {
  // Problems without a position go last; ties keep the order they were found in.
  const key = (e: Entry): number[] => [e.loc?.order ?? Infinity, e.loc?.line ?? 0, e.loc?.col ?? 0, e.seq];
  return [...entries]
    .sort((a, b) => {
      const ka = key(a);
      const kb = key(b);
      for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! < kb[i]! ? -1 : 1;
      return 0;
    })
    .map((e) => e.problem);
}

/** One line per problem: `fleetcol.yaml:14:5 exporters.sse.auth.jwt: must have required property 'secret'`. */
export function formatProblems(problems: ConfigProblem[]): string {
  return problems
    .map((p) => {
      const where = [p.location, p.path ? `${p.path}:` : undefined].filter((s) => s !== undefined);
      const head = where.join(' ');
      const line = head ? `${head} ${p.message}` : p.message;
      return line.replace(/\s*\n\s*/g, ' ');
    })
    .join('\n');
}
