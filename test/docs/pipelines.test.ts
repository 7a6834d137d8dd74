/**
 * docs/pipelines.md and its workflow files: both are valid YAML, the doc embeds them verbatim, and every engram-audit
 * command line in them is accepted by the CLI's own argument parsers (so a renamed command or flag fails here).
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { main } from '../../src/cli/main.js';
import { parseShard } from '../../src/bundle-ops/shard.js';
import { parseFailOn } from '../../src/cli/scan.js';
import { parseFormats } from '../../src/reporters/formats.js';
import { repoRoot } from '../support/paths.js';

const GITHUB = '.github/workflows/engram-audit-nightly.yml';
const AZURE = 'docs/examples/azure-pipelines.yml';
const DOC = 'docs/pipelines.md';
const text = (rel: string) => readFileSync(join(repoRoot, rel), 'utf8');

/** Keys whose string values are shell scripts: GitHub `run`, Azure Pipelines `script`/`bash`, AzureCLI `inlineScript`. */
const SCRIPT_KEYS = new Set(['run', 'script', 'bash', 'inlineScript']);

function scriptsOf(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) scriptsOf(n, out);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (SCRIPT_KEYS.has(k) && typeof v === 'string') out.push(v);
      else scriptsOf(v, out);
    }
  }
  return out;
}

/** Values the pipelines' expressions take in one matrix leg (GitHub `${{ }}` and Azure Pipelines `$( )` macros). */
const EXPRESSIONS: Record<string, string> = { 'matrix.shard': '1', 'strategy.job-total': '4', shardIndex: '1', shardCount: '4' };

type Token = { word: string } | { op: string };

/** A small POSIX-shell tokenizer: quotes, `$( )`, comments, redirections and command separators. */
function tokenize(line: string): Token[] {
  const tokens: Token[] = [];
  let word = '';
  let inWord = false;
  const flush = () => {
    if (inWord) tokens.push({ word });
    word = '';
    inWord = false;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      assert.ok(end > i, `unterminated ' in: ${line}`);
      word += line.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\') j++;
        else if (line[j] === '$' && line[j + 1] === '(') {
          j = closeParen(line, j + 1);
        }
      }
      assert.ok(j < line.length, `unterminated " in: ${line}`);
      word += line.slice(i + 1, j).replace(/\\(["\\$`])/g, '$1');
      inWord = true;
      i = j;
    } else if (c === '$' && line[i + 1] === '(') {
      const end = closeParen(line, i + 1);
      word += line.slice(i, end + 1);
      inWord = true;
      i = end;
    } else if (c === '#' && !inWord) {
      break;
    } else if (/\s/.test(c)) {
      flush();
    } else if (c === '&' || c === '|' || c === ';' || c === '(' || c === ')') {
      flush();
      const two = line.slice(i, i + 2);
      if (two === '&&' || two === '||') {
        tokens.push({ op: two });
        i++;
      } else tokens.push({ op: c });
    } else if (c === '>' || c === '<') {
      if (/^\d+$/.test(word)) {
        word = '';
        inWord = false;
      } else flush();
      let op = c;
      while (line[i + 1] === '>' || line[i + 1] === '&') op += line[++i];
      if (op.endsWith('&')) while (/\d/.test(line[i + 1] ?? '')) op += line[++i];
      tokens.push({ op: op.endsWith('&') || /&\d$/.test(op) ? '>&' : op });
    } else {
      word += c;
      inWord = true;
    }
  }
  flush();
  return tokens;
}

function closeParen(s: string, open: number): number {
  let depth = 0;
  for (let j = open; j < s.length; j++) {
    if (s[j] === '(') depth++;
    else if (s[j] === ')' && --depth === 0) return j;
  }
  throw new Error(`unbalanced $( in: ${s}`);
}

const KEYWORDS = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', '!', '{', '}', 'time']);

/** Every engram-audit invocation in a shell script, as the argv main() receives (program name dropped). */
export function engramCommands(script: string): string[][] {
  const expressions: string[] = [];
  const joined = script
    .replace(/\\\r?\n[ \t]*/g, ' ')
    .replace(/\$\{\{\s*(.*?)\s*\}\}/g, (_m, expr: string) => `__EXPR${expressions.push(expr) - 1}__`);
  const commands: string[][] = [];
  for (const line of joined.split('\n')) {
    let current: string[] = [];
    let skipNext = false;
    const finish = () => {
      const words = [...current];
      current = [];
      while (words.length > 0 && (KEYWORDS.has(words[0]!) || /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0]!))) words.shift();
      if (words[0] === 'npx') {
        words.shift();
        while (words[0]?.startsWith('-')) words.shift();
      }
      if (words[0] === 'node' && /(^|\/)bin\/engram-audit\.js$/.test(words[1] ?? '')) words.shift();
      if (words[0] !== undefined && (/^engram-audit(@[^\s]+)?$/.test(words[0]) || /(^|\/)bin\/engram-audit\.js$/.test(words[0]))) {
        commands.push(
          words.slice(1).map((w) =>
            w
              .replace(/__EXPR(\d+)__/g, (_m, n: string) => EXPRESSIONS[expressions[Number(n)]!] ?? 'x')
              .replace(/\$\(([A-Za-z_.]+)\)/g, (m, name: string) => EXPRESSIONS[name] ?? m),
          ),
        );
      }
    };
    for (const t of tokenize(line)) {
      if ('op' in t) {
        if (t.op.startsWith('>') || t.op.startsWith('<')) skipNext = t.op !== '>&';
        else finish();
        continue;
      }
      if (skipNext) {
        skipNext = false;
        continue;
      }
      current.push(t.word);
    }
    finish();
  }
  return commands;
}

/** Problems with one command line, checked by the CLI itself: main() parses strictly, `--help` stops it before any work. */
async function problemsWith(argv: string[]): Promise<string[]> {
  const problems: string[] = [];
  let stdout = '';
  let stderr = '';
  const code = await main([...argv, '--help'], {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    env: {},
    isTTY: false,
    now: () => new Date('2026-11-28T09:00:00Z'),
    cwd: repoRoot,
  });
  if (code !== 0 || !stdout.startsWith('Usage: engram-audit')) problems.push(`exit ${code}: ${stderr.trim() || stdout.slice(0, 80)}`);
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const check = (flag: string, fn: (v: string) => unknown) => {
    const v = value(flag);
    if (v === undefined) return;
    try {
      fn(v);
    } catch (err) {
      problems.push(`${flag} ${v}: ${(err as Error).message}`);
    }
  };
  check('--shard', (v) => parseShard(v));
  check('--format', (v) => parseFormats(v));
  check('--fail-on', (v) => parseFailOn(v));
  return problems;
}

async function checkFile(yamlText: string): Promise<{ commands: string[][]; problems: string[] }> {
  const doc = YAML.parseDocument(yamlText, { prettyErrors: true });
  assert.deepEqual(doc.errors.map((e) => e.message), []);
  const commands = scriptsOf(doc.toJS()).flatMap(engramCommands);
  const problems: string[] = [];
  for (const argv of commands) for (const p of await problemsWith(argv)) problems.push(`engram-audit ${argv.join(' ')}\n    ${p}`);
  return { commands, problems };
}

const commandNames = (commands: string[][]) => commands.map((c) => (c[0]!.startsWith('-') ? 'scan' : c[0]!)).sort();

describe('pipeline workflows', () => {
  for (const file of [GITHUB, AZURE]) {
    it(`${file} is valid YAML whose engram-audit commands the CLI accepts`, async () => {
      const { commands, problems } = await checkFile(text(file));
      assert.deepEqual(problems, []);
      // Not vacuous: the whole flow is there.
      assert.deepEqual([...new Set(commandNames(commands))], ['diff', 'merge', 'scan', 'verify']);
      const scan = commands.find((c) => c[0] === 'scan')!;
      assert.equal(scan[scan.indexOf('--shard') + 1], '1/4');
      assert.ok(commands.find((c) => c[0] === 'merge')!.includes('--fingerprint'), 'merge trusts only the part key');
    });
  }

  it('has the GitHub pieces the doc promises: schedule, OIDC, a shard matrix, a merge job, SARIF, artifacts', () => {
    const wf = YAML.parse(text(GITHUB));
    assert.ok(wf.on.schedule[0].cron);
    assert.equal(wf.jobs.scan.permissions['id-token'], 'write');
    assert.deepEqual(wf.jobs.scan.strategy.matrix.shard, [1, 2, 3, 4]);
    const uses = (job: string) => wf.jobs[job].steps.map((s: { uses?: string }) => s.uses).filter(Boolean);
    assert.ok(uses('scan').includes('azure/login@v2'));
    assert.deepEqual(wf.jobs.merge.needs, 'scan');
    assert.equal(wf.jobs.merge.permissions['security-events'], 'write');
    assert.ok(uses('merge').includes('github/codeql-action/upload-sarif@v3'));
    assert.ok(uses('merge').includes('actions/download-artifact@v4'));
    assert.ok(uses('scan').includes('actions/upload-artifact@v4'));
  });

  it('has the Azure Pipelines pieces: AzureCLI with the service connection, a matrix, a merge stage, JUnit, artifacts', () => {
    const p = YAML.parse(text(AZURE));
    const [scan, merge] = p.stages;
    const tasks = (stage: { jobs: { steps: { task?: string }[] }[] }) => stage.jobs[0]!.steps.map((s) => s.task).filter(Boolean);
    assert.ok(p.schedules[0].cron);
    assert.deepEqual(Object.keys(scan.jobs[0].strategy.matrix), ['shard1', 'shard2', 'shard3', 'shard4']);
    assert.ok(tasks(scan).includes('AzureCLI@2'));
    assert.equal(merge.dependsOn, 'scan');
    assert.ok(tasks(merge).includes('PublishTestResults@2'));
    const junit = merge.jobs[0].steps.find((s: { task?: string }) => s.task === 'PublishTestResults@2');
    assert.equal(junit.inputs.testResultsFormat, 'JUnit');
    assert.ok(merge.jobs[0].steps.some((s: { publish?: string; artifact?: string }) => s.artifact === 'engram-audit-bundle'));
  });

  it('docs/pipelines.md embeds both files verbatim and its own command examples are real', async () => {
    const doc = text(DOC);
    // Fences of three or more backticks; the workflows themselves contain ``` so the doc fences them with four.
    const blocks = [...doc.matchAll(/^(`{3,})(\w*)\n([\s\S]*?)^\1$/gm)].map((m) => ({ lang: m[2], body: m[3]! }));
    for (const file of [GITHUB, AZURE]) assert.ok(blocks.some((b) => b.lang === 'yaml' && b.body === text(file)), `${file} is in ${DOC} verbatim`);
    const shell = blocks.filter((b) => b.lang === 'sh' || b.lang === 'bash');
    const commands = shell.flatMap((b) => engramCommands(b.body));
    assert.ok(commands.length >= 5, `found ${commands.length} commands in the doc`);
    const problems: string[] = [];
    for (const argv of commands) for (const p of await problemsWith(argv)) problems.push(`engram-audit ${argv.join(' ')}: ${p}`);
    assert.deepEqual(problems, []);
  });

  it('the check fails when a flag is renamed, a command is misspelt or a value is invalid', async () => {
    const gh = text(GITHUB);
    for (const [from, to, why] of [
      ['--shard "${{ matrix.shard }}', '--shards "${{ matrix.shard }}', /Unknown option '--shards'/],
      ['engram-audit merge parts', 'engram-audit mergee parts', /unknown command 'mergee'/],
      ['--format json,html,pdf,sarif,junit', '--format json,xlsx', /--format json,xlsx: unknown output format "xlsx"/],
      ['--fingerprint "$PART_FINGERPRINT"', '--trusted "$PART_FINGERPRINT"', /Unknown option '--trusted'/],
      ['/${{ strategy.job-total }}"', '/0"', /--shard 1\/0/],
    ] as const) {
      assert.ok(gh.includes(from), from);
      const { problems } = await checkFile(gh.replace(from, to));
      assert.equal(problems.length, 1, `${to}: ${problems.join('; ')}`);
      assert.match(problems[0]!, why);
    }
  });

  it('finds commands however they are written: continuations, npx, redirections, separators and assignments', () => {
    const found = engramCommands(
      [
        'set +e; engram-audit verify out --json > report.json 2>&1 || code=$?',
        'npx --yes engram-audit@0.1.0 diff a b \\',
        '  --out "c d.html"  # trailing comment',
        'if ! ENGRAM_AUDIT_CHROMIUM=/x engram-audit --control AI-SEC-01 --shard "${{ matrix.shard }}/4"; then exit 1; fi',
        "echo 'engram-audit is not run here'",
        'node bin/engram-audit.js merge p1 p2 --out m | tee log',
      ].join('\n'),
    );
    assert.deepEqual(found, [
      ['verify', 'out', '--json'],
      ['diff', 'a', 'b', '--out', 'c d.html'],
      ['--control', 'AI-SEC-01', '--shard', '1/4'],
      ['merge', 'p1', 'p2', '--out', 'm'],
    ]);
  });
});
