import { randomBytes } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { parquetWriteBuffer, type BasicType, type ColumnSource } from 'hyparquet-writer';

/**
 * The exported tables' column types, each with the Parquet type it is written as. A CSV has no
 * types; its header is the same, values are written as JSON would read them (ISO timestamps,
 * true/false, empty for null).
 */
export const ColumnType = {
  int: 'INT32',
  bigint: 'INT64',
  double: 'DOUBLE',
  string: 'STRING',
  boolean: 'BOOLEAN',
  timestamp: 'TIMESTAMP',
} as const satisfies Record<string, BasicType>;
export type ColumnType = keyof typeof ColumnType;

export interface Column {
  name: string;
  type: ColumnType;
}

/** Rows keyed by column name; a value is a number, string, boolean, ISO timestamp string or null. */
export interface Table {
  name: string;
  columns: readonly Column[];
  rows: ReadonlyArray<Record<string, unknown>>;
}

/**
 * The table's columns: the fixed ones in their order, then every other key found in the rows
 * (per-resource figures such as `supply_water`, which differ between scenarios) in name order,
 * as doubles. Rows without such a key hold null there.
 */
export function withExtraColumns(name: string, fixed: readonly Column[], rows: ReadonlyArray<Record<string, unknown>>): Table {
  const known = new Set(fixed.map((c) => c.name));
  const extra = [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((k) => !known.has(k)).sort();
  return { name, columns: [...fixed, ...extra.map((c) => ({ name: c, type: 'double' as const }))], rows };
}

function typed(table: Table, column: Column, value: unknown): number | bigint | string | boolean | Date | null {
  if (value === null || value === undefined) return null;
  const wrong = () => new Error(`${table.name}.${column.name}: ${JSON.stringify(value)} is not a ${column.type}`);
  switch (column.type) {
    case 'int':
    case 'bigint':
      if (typeof value !== 'number' || !Number.isInteger(value)) throw wrong();
      return column.type === 'bigint' ? BigInt(value) : value;
    case 'double':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw wrong();
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') throw wrong();
      return value;
    case 'timestamp': {
      const date = value instanceof Date ? value : typeof value === 'string' || typeof value === 'number' ? new Date(value) : null;
      if (!date || Number.isNaN(date.getTime())) throw wrong();
      return date;
    }
    case 'string':
      return typeof value === 'string' ? value : JSON.stringify(value);
  }
}

/** One Parquet file of the table, one row group, snappy-compressed, `meta` kept as key-value metadata. */
export function parquetBytes(table: Table, meta: Record<string, string> = {}): Uint8Array {
  const columnData: ColumnSource[] = table.columns.map((column) => ({
    name: column.name,
    type: ColumnType[column.type],
    data: table.rows.map((row) => typed(table, column, row[column.name])) as ColumnSource['data'],
  }));
  const buffer = parquetWriteBuffer({
    columnData,
    rowGroupSize: Math.max(1, table.rows.length),
    kvMetadata: Object.entries(meta).map(([key, value]) => ({ key, value })),
    createdBy: 'gridgov',
  });
  return new Uint8Array(buffer);
}

const csvField = (value: string) => (/[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value);

/** RFC 4180: a header line, CRLF line ends, fields quoted when they hold a comma, quote or line break. */
export function csvText(table: Table): string {
  const lines = [table.columns.map((c) => csvField(c.name)).join(',')];
  for (const row of table.rows) {
    lines.push(
      table.columns
        .map((column) => {
          const value = typed(table, column, row[column.name]);
          if (value === null) return '';
          return csvField(value instanceof Date ? value.toISOString() : String(value));
        })
        .join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** Writes beside the target then renames, so a reader never sees half a file. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const partial = `${path}.${randomBytes(4).toString('hex')}.partial`;
  await writeFile(partial, data);
  await rename(partial, path);
}
