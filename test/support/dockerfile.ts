import { readFileSync } from 'node:fs';

/** One instruction of a Dockerfile: its keyword (upper case) and the rest of its logical line. */
export interface Instruction {
  keyword: string;
  args: string;
}

/** One `FROM … [AS name]` stage and its instructions. */
export interface Stage {
  name?: string;
  /** The base image, with the global `ARG` defaults substituted. */
  from: string;
  instructions: Instruction[];
}

/** The HEALTHCHECK of a stage: its options (`interval` → `15s`) and its exec-form command. */
export interface Healthcheck {
  options: Record<string, string>;
  command: string[];
}

/**
 * The few facts of a Dockerfile that the deployment specs and the image smoke test read. Handles
 * what this repository's Dockerfile uses: comments, `\` continuations, global `ARG` defaults in
 * `FROM`, `ENV k=v …`, exec-form (JSON) `CMD`, `ENTRYPOINT` and `HEALTHCHECK CMD`. Anything else
 * (a shell-form command, an unknown `FROM` variable) throws, so a change the readers cannot follow
 * fails loudly instead of being half-read.
 */
export class Dockerfile {
  readonly stages: Stage[];

  constructor(text: string) {
    this.stages = parseStages(logicalLines(text));
    if (this.stages.length === 0) throw new Error('Dockerfile has no FROM');
  }

  static read(path = 'Dockerfile'): Dockerfile {
    return new Dockerfile(readFileSync(path, 'utf8'));
  }

  /** The stage that becomes the image (the last one). */
  get runtime(): Stage {
    return this.stages.at(-1)!;
  }

  stage(name: string): Stage {
    const s = this.stages.find((st) => st.name === name);
    if (!s) throw new Error(`Dockerfile has no stage "${name}"`);
    return s;
  }

  /** The stage and the stages it is built `FROM`, base first. */
  chain(stage: Stage): Stage[] {
    const parent = this.stages.find((s) => s.name === stage.from);
    return parent ? [...this.chain(parent), stage] : [stage];
  }

  /** The last value of `keyword` in `stage` (or the stages it is built from). */
  last(stage: Stage, keyword: string): string | undefined {
    const all = this.chain(stage).flatMap((s) => s.instructions).filter((i) => i.keyword === keyword);
    return all.at(-1)?.args;
  }

  /** Every `ENV` of `stage` (and the stages it is built from). */
  env(stage: Stage): Record<string, string> {
    const out: Record<string, string> = {};
    for (const i of this.chain(stage).flatMap((s) => s.instructions)) {
      if (i.keyword !== 'ENV') continue;
      for (const m of i.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
        out[m[1]!] = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
      }
    }
    return out;
  }

  /** `ENTRYPOINT` and `CMD` of the image, each in exec form. */
  command(stage = this.runtime): { entrypoint: string[]; cmd: string[] } {
    const entrypoint = this.last(stage, 'ENTRYPOINT');
    const cmd = this.last(stage, 'CMD');
    return { entrypoint: entrypoint ? execForm(entrypoint, 'ENTRYPOINT') : [], cmd: cmd ? execForm(cmd, 'CMD') : [] };
  }

  healthcheck(stage = this.runtime): Healthcheck | undefined {
    const args = this.last(stage, 'HEALTHCHECK');
    if (!args) return undefined;
    const m = /^((?:--[a-z-]+=\S+\s+)*)CMD\s+(.*)$/s.exec(args);
    if (!m) throw new Error(`HEALTHCHECK must be --options CMD [exec form]: ${args}`);
    const options = Object.fromEntries([...m[1]!.matchAll(/--([a-z-]+)=(\S+)/g)].map((o) => [o[1]!, o[2]!]));
    return { options, command: execForm(m[2]!, 'HEALTHCHECK CMD') };
  }

  /** `COPY --from=<stage> <src> <dest>` lines of `stage`, and plain `COPY <src…> <dest>` ones (`from` undefined). */
  copies(stage: Stage): Array<{ from?: string; sources: string[]; dest: string }> {
    return stage.instructions
      .filter((i) => i.keyword === 'COPY')
      .map((i) => {
        const words = i.args.split(/\s+/);
        const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
        const paths = words.filter((w) => !w.startsWith('--'));
        return { from, sources: paths.slice(0, -1), dest: paths.at(-1)! };
      });
  }
}

/** Comments dropped, continuations joined: one string per instruction. */
function logicalLines(text: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (/^\s*#/.test(line)) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    if (current.trim()) out.push(current.trim());
    current = '';
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

function parseStages(lines: string[]): Stage[] {
  const globals: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const space = line.indexOf(' ');
    const keyword = (space < 0 ? line : line.slice(0, space)).toUpperCase();
    const args = space < 0 ? '' : line.slice(space + 1).trim();
    if (keyword === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!m) throw new Error(`FROM not understood: ${args}`);
      const from = m[1]!.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, name: string) => {
        const value = globals[name];
        if (value === undefined) throw new Error(`FROM uses ARG ${name}, which has no default`);
        return value;
      });
      stages.push({ from, name: m[2], instructions: [] });
    } else if (stages.length === 0) {
      if (keyword !== 'ARG') throw new Error(`only ARG may come before the first FROM, not ${keyword}`);
      const [name, value] = args.split('=', 2) as [string, string | undefined];
      if (value !== undefined) globals[name] = value;
    } else {
      stages.at(-1)!.instructions.push({ keyword, args });
    }
  }
  return stages;
}

function execForm(args: string, what: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch {
    throw new Error(`${what} must be in exec form (a JSON array), so the signal reaches the process: ${args}`);
  }
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) throw new Error(`${what} must be a JSON array of strings`);
  return parsed;
}
