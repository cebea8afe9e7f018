import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { EXPORT_COLUMNS } from '../../src/experiments/columns.ts';

test('docs/experiments.md describes every column the exports write', async () => {
  const doc = await readFile(new URL('../../docs/experiments.md', import.meta.url), 'utf8');
  for (const [name, columns] of Object.entries(EXPORT_COLUMNS)) {
    const start = doc.indexOf(`**${name}**`);
    assert.ok(start > 0, `a section for ${name}`);
    const section = doc.slice(start, doc.indexOf('\n**', start + 1) === -1 ? undefined : doc.indexOf('\n**', start + 1));
    const intro = doc.slice(0, doc.indexOf('**runs**'));
    for (const column of columns) {
      assert.ok(section.includes(`\`${column.name}\``) || intro.includes(`\`${column.name}\``), `${name}.${column.name} is documented`);
    }
  }
});
