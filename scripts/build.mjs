/**
 * Compiles src/ into dist/ for plain Node: one .js per .ts (esbuild's transform, the one tsx
 * uses), every other file copied, so paths relative to a module stay what they are in src/.
 * `npm install` runs it (the prepare script); bin/gridgov runs dist/ only while it matches src/,
 * and the TypeScript sources through tsx otherwise. Without tsx's loader thread a gridgov
 * process needs about 35 MB less memory and starts faster.
 *
 *   node scripts/build.mjs
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = join(ROOT, 'src');
const DIST = join(ROOT, 'dist');
const STAMP = join(DIST, '.source-fingerprint');

function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? files(path) : [path];
  });
}

/** What src/ holds now: every file's path, size and modification time. */
function fingerprint() {
  const hash = createHash('sha256');
  for (const path of files(SRC).sort()) {
    const stat = statSync(path);
    hash.update(`${relative(SRC, path)}\0${stat.size}\0${stat.mtimeMs}\n`);
  }
  return hash.digest('hex');
}

/** True when dist/ was built from src/ exactly as it is now. */
export function distIsCurrent() {
  try {
    return readFileSync(STAMP, 'utf8') === fingerprint();
  } catch {
    return false;
  }
}

/** Relative imports of .ts files name the compiled .js files instead. */
const TS_SPECIFIER = /((?:\bfrom|\bimport)\s*\(?\s*)(["'])(\.{1,2}\/[^"'\n]+?)\.ts\2/g;

export async function build() {
  const { transform } = await import('esbuild');
  const before = fingerprint();
  rmSync(DIST, { recursive: true, force: true });
  for (const path of files(SRC)) {
    const target = join(DIST, relative(SRC, path));
    mkdirSync(dirname(target), { recursive: true });
    if (!path.endsWith('.ts')) {
      copyFileSync(path, target);
      continue;
    }
    const { code } = await transform(readFileSync(path, 'utf8'), {
      loader: 'ts',
      format: 'esm',
      target: 'node20',
      sourcefile: relative(ROOT, path),
      tsconfigRaw: { compilerOptions: { useDefineForClassFields: true, verbatimModuleSyntax: false } },
    });
    writeFileSync(target.replace(/\.ts$/, '.js'), code.replace(TS_SPECIFIER, '$1$2$3.js$2'));
  }
  // Written last, and only if src/ did not change while building.
  if (fingerprint() === before) writeFileSync(STAMP, before);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = Date.now();
  await build();
  if (!existsSync(STAMP)) {
    console.error('src/ changed during the build: run it again');
    process.exit(1);
  }
  console.log(`dist/ built from src/ in ${Date.now() - started} ms`);
}
