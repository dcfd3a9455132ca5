/**
 * Runs the benchmarks: `npm run bench` runs them all with their defaults, `npm run bench -- login` one,
 * `npm run bench -- login --runs 3` one with its options (see `npm run bench -- login --help`).
 * Benchmarks are never part of the test suite; they print Markdown and record it in docs/BENCHMARKS.md.
 */
const benchmarks: Record<string, () => Promise<{ run(argv: string[]): Promise<number> }>> = {
  login: () => import('./login.js'),
  fanout: () => import('./fanout.js'),
  ratelimit: () => import('./ratelimit.js'),
  config: () => import('./config.js'),
  replay: () => import('./replay.js'),
  hotpath: () => import('./hotpath.js'),
  workspaces: () => import('./workspaces.js'),
  widgets: () => import('./widgets.js'),
  cluster: () => import('./cluster.js'),
  soak: () => import('./soak.js'),
  client: () => import('./client.js'),
};

const argv = process.argv.slice(2);
const firstOption = argv.findIndex((a) => a.startsWith('-'));
const names = firstOption === -1 ? argv : argv.slice(0, firstOption);
const rest = firstOption === -1 ? [] : argv.slice(firstOption);
const unknown = names.filter((n) => !(n in benchmarks));
if (unknown.length) {
  process.stderr.write(
    `unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(benchmarks).join(', ')}\n`,
  );
  process.exit(2);
}
if (names.length === 0 && rest.some((a) => a !== '--help' && a !== '-h')) {
  process.stderr.write('name the benchmark the options are for, e.g. npm run bench -- login --runs 3\n');
  process.exit(2);
}

let code = 0;
for (const name of names.length ? names : Object.keys(benchmarks)) {
  try {
    const bench = await benchmarks[name]?.();
    code = Math.max(code, (await bench?.run(rest)) ?? 1);
  } catch (error) {
    process.stderr.write(`bench ${name}: ${error instanceof Error ? error.message : String(error)}\n`);
    code = 1;
  }
}
process.exit(code);
