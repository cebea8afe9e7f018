/**
 * A checker of list-append histories in the style of Elle (Kingsbury and Alvaro, "Elle: Inferring
 * Isolation Anomalies from Experimental Observations", VLDB 2020), for Adya's anomalies
 * ("Weak Consistency", 1999). Each transaction appends values to, and reads, small per-key lists;
 * each appended value is unique per key, so a read names the transactions that wrote what it saw,
 * in the order the database applied them. From the reads:
 *
 * - the version order of a key is its final read (what the database kept), and every read must
 *   be a prefix of it, leaving aside appends in doubt (else: `incompatible-order`);
 * - `duplicate` (a value read twice in one list), `garbage` (a value nobody appended);
 * - `G1a` aborted read: a read saw a value of a transaction that failed;
 * - `G1b` intermediate read: a read ended on a value its writer later followed by another
 *   append to the same key in the same transaction;
 * - `lost`: an acknowledged append missing from the final read of its key;
 * - `read-lost`: a committed read saw an append whose outcome its client never learned and that
 *   the final read lacks: PostgreSQL shows a commit to other sessions on the primary before the
 *   synchronous standby confirms it, so a primary cut off can show what failover then drops;
 * - `stale`: a read that began after an append was acknowledged but did not see it (real time);
 * - dependency cycles over ww (next version), wr (read what was written) and rw (read a version
 *   the other overwrote) edges between transactions: `G0` (ww only), `G1c` (ww and wr),
 *   `G-single` (exactly one rw: read skew) and `G2` (more rw: write skew and the like).
 *
 * A transaction that ended in doubt (`info`: the connection broke before the answer) may or may
 * not have committed: it is never counted as lost or aborted, and joins the graph when read.
 */

export type MicroOp = { f: 'append'; key: number; value: number } | { f: 'r'; key: number; value: number[] | null };

export interface Txn {
  index: number;
  /** ok: committed and acknowledged; fail: certainly rolled back; info: unknown. */
  type: 'ok' | 'fail' | 'info';
  ops: MicroOp[];
  /** When the transaction began and when its outcome was known (ms), for the real-time check. */
  start: number;
  end: number;
}

export const AnomalyKind = {
  g0: 'G0',
  g1a: 'G1a',
  g1b: 'G1b',
  g1c: 'G1c',
  gSingle: 'G-single',
  g2: 'G2',
  lost: 'lost',
  stale: 'stale',
  incompatibleOrder: 'incompatible-order',
  readLost: 'read-lost',
  duplicate: 'duplicate',
  garbage: 'garbage',
} as const;
export type AnomalyKind = (typeof AnomalyKind)[keyof typeof AnomalyKind];

export interface Anomaly {
  kind: AnomalyKind;
  message: string;
  /** The transaction it is found in (the first of a cycle), to place it in time; none for the final read. */
  txn?: number;
}

type EdgeKind = 'ww' | 'wr' | 'rw';
interface Edge {
  to: number;
  kind: EdgeKind;
  key: number;
}

const reads = (txn: Txn) => txn.ops.filter((op): op is Extract<MicroOp, { f: 'r' }> => op.f === 'r' && op.value !== null);
const appends = (txn: Txn) => txn.ops.filter((op): op is Extract<MicroOp, { f: 'append' }> => op.f === 'append');

/**
 * @param finalReads the list of each key read once every fault was healed: what the database kept.
 */
export function checkListAppend(history: ReadonlyArray<Txn>, finalReads: ReadonlyMap<number, number[]>): Anomaly[] {
  const anomalies: Anomaly[] = [];
  const add = (kind: AnomalyKind, message: string, txn?: Txn) => anomalies.push({ kind, message, txn: txn?.index });

  // Who appended each value: key → value → transaction (values are unique per key).
  const writer = new Map<number, Map<number, Txn>>();
  for (const txn of history)
    for (const op of appends(txn)) {
      const byValue = writer.get(op.key) ?? new Map<number, Txn>();
      writer.set(op.key, byValue);
      if (byValue.has(op.value)) throw new Error(`the history appends ${op.value} to key ${op.key} twice`);
      byValue.set(op.value, txn);
    }

  // Version order: what the database kept (the final read), else the longest list seen.
  const order = new Map<number, number[]>(finalReads);
  const observed: Array<{ txn: Txn | undefined; key: number; list: number[] }> = [];
  for (const txn of history) if (txn.type === 'ok') for (const op of reads(txn)) observed.push({ txn, key: op.key, list: op.value! });
  for (const { key, list } of observed) if (!finalReads.has(key) && list.length > (order.get(key)?.length ?? -1)) order.set(key, list);
  for (const [key, list] of finalReads) observed.push({ txn: undefined, key, list });
  // Reads that saw what the database then lost say nothing reliable about the version order.
  const diverged = new Set<{ txn: Txn | undefined; key: number; list: number[] }>();

  for (const entry of observed) {
    const { txn, key, list } = entry;
    const who = txn ? `T${txn.index}` : 'the final read';
    const kept = order.get(key)!;
    const gone = list.filter((value) => !kept.includes(value));
    if (gone.length > 0) diverged.add(entry);
    const inDoubt = gone.filter((value) => writer.get(key)?.get(value)?.type === 'info');
    if (inDoubt.length > 0)
      add(
        AnomalyKind.readLost,
        `${who} read key ${key} as [${list.join(' ')}]; ${inDoubt.join(' ')}, appended in doubt, was then lost`,
        txn,
      );
    const surviving = list.filter((value) => kept.includes(value));
    const acknowledgedGone = gone.some((value) => writer.get(key)?.get(value)?.type === 'ok');
    if (acknowledgedGone || surviving.some((value, i) => kept[i] !== value))
      add(AnomalyKind.incompatibleOrder, `${who} read key ${key} as [${list.join(' ')}], not a prefix of [${kept.join(' ')}]`, txn);
    if (new Set(list).size !== list.length) add(AnomalyKind.duplicate, `${who} read key ${key} as [${list.join(' ')}]`, txn);
    for (const value of list) {
      const w = writer.get(key)?.get(value);
      if (!w) add(AnomalyKind.garbage, `${who} read ${value} in key ${key}, which nobody appended`, txn);
      else if (w.type === 'fail') add(AnomalyKind.g1a, `${who} read ${value} in key ${key}, appended by T${w.index}, which failed`, w);
    }
    const last = list[list.length - 1];
    const lastWriter = last === undefined ? undefined : writer.get(key)?.get(last);
    if (txn && lastWriter && lastWriter !== txn) {
      const own = appends(lastWriter).filter((op) => op.key === key);
      if (own[own.length - 1]!.value !== last)
        add(AnomalyKind.g1b, `T${txn.index} read key ${key} ending on ${last}, an intermediate append of T${lastWriter.index}`, txn);
    }
  }

  for (const txn of history) {
    if (txn.type !== 'ok') continue;
    for (const op of appends(txn))
      if (!(finalReads.get(op.key) ?? []).includes(op.value))
        add(AnomalyKind.lost, `T${txn.index} was acknowledged appending ${op.value} to key ${op.key}; the final read lacks it`, txn);
  }
  const consistent = (txn: Txn, op: Extract<MicroOp, { f: 'r' }>) => op.value!.every((value) => order.get(op.key)!.includes(value));
  anomalies.push(...staleReads(history, order, consistent));
  anomalies.push(...cycles(history, order, writer, consistent));
  return anomalies;
}

/** A read that began after an append was acknowledged must hold it (and so what precedes it). */
function staleReads(
  history: ReadonlyArray<Txn>,
  order: Map<number, number[]>,
  consistent: (txn: Txn, op: Extract<MicroOp, { f: 'r' }>) => boolean,
): Anomaly[] {
  const found: Anomaly[] = [];
  const acked = new Map<number, Array<{ end: number; position: number; txn: Txn; value: number }>>();
  for (const txn of history) {
    if (txn.type !== 'ok') continue;
    for (const op of appends(txn)) {
      const position = order.get(op.key)?.indexOf(op.value) ?? -1;
      if (position >= 0) acked.set(op.key, [...(acked.get(op.key) ?? []), { end: txn.end, position, txn, value: op.value }]);
    }
  }
  for (const txn of history) {
    if (txn.type !== 'ok') continue;
    for (const op of reads(txn)) {
      if (!consistent(txn, op)) continue;
      const missed = (acked.get(op.key) ?? []).find((a) => a.txn !== txn && a.end < txn.start && a.position >= op.value!.length);
      if (missed)
        found.push({
          kind: AnomalyKind.stale,
          txn: txn.index,
          message: `T${txn.index} read key ${op.key} as [${op.value!.join(' ')}] after T${missed.txn.index}'s append of ${missed.value} was acknowledged`,
        });
    }
  }
  return found;
}

/** The dependency graph between committed (or observed) transactions, and its cycles by kind. */
function cycles(
  history: ReadonlyArray<Txn>,
  order: Map<number, number[]>,
  writer: Map<number, Map<number, Txn>>,
  consistent: (txn: Txn, op: Extract<MicroOp, { f: 'r' }>) => boolean,
): Anomaly[] {
  const edges = new Map<number, Edge[]>();
  const link = (from: Txn | undefined, to: Txn | undefined, kind: EdgeKind, key: number) => {
    if (!from || !to || from === to || from.type === 'fail' || to.type === 'fail') return;
    const list = edges.get(from.index) ?? [];
    if (!list.some((e) => e.to === to.index && e.kind === kind)) list.push({ to: to.index, kind, key });
    edges.set(from.index, list);
  };
  for (const [key, versions] of order) {
    const w = (i: number) => (i >= 0 ? writer.get(key)?.get(versions[i]!) : undefined);
    for (let i = 0; i + 1 < versions.length; i++) link(w(i), w(i + 1), 'ww', key);
  }
  for (const txn of history) {
    if (txn.type !== 'ok') continue;
    for (const op of reads(txn)) {
      if (!consistent(txn, op)) continue;
      const versions = order.get(op.key) ?? [];
      const seen = op.value!.length;
      link(seen > 0 ? writer.get(op.key)?.get(op.value![seen - 1]!) : undefined, txn, 'wr', op.key);
      // Reading a writer's intermediate value is G1b, not also an rw edge back to that writer.
      const next = writer.get(op.key)?.get(versions[seen]!);
      if (seen === 0 || next !== writer.get(op.key)?.get(op.value![seen - 1]!)) link(txn, next, 'rw', op.key);
    }
  }

  const found: Anomaly[] = [];
  const reported = new Set<string>();
  const report = (kind: AnomalyKind, cycle: Array<{ from: number; edge: Edge }>) => {
    const id = cycle
      .map((c) => c.from)
      .sort((a, b) => a - b)
      .join(',');
    if (reported.has(id)) return;
    reported.add(id);
    const path = cycle.map((c) => `T${c.from} -${c.edge.kind}(key ${c.edge.key})→ `).join('') + `T${cycle[0]!.from}`;
    found.push({ kind, message: path, txn: cycle[0]!.from });
  };
  // Narrowest first: a ww-only cycle is G0, ww+wr G1c; then one rw (G-single), then any (G2).
  const allowed = (kinds: EdgeKind[]) => (e: Edge) => kinds.includes(e.kind);
  for (const [kind, kinds] of [
    [AnomalyKind.g0, ['ww']],
    [AnomalyKind.g1c, ['ww', 'wr']],
  ] as const) {
    for (const component of components(edges, allowed([...kinds]))) {
      const start = component[0]!;
      const cycle = path(edges, allowed([...kinds]), component, start, start);
      if (cycle && (kind === AnomalyKind.g0 || cycle.some((c) => c.edge.kind === 'wr'))) report(kind, cycle);
    }
  }
  const everything = allowed(['ww', 'wr', 'rw']);
  for (const component of components(edges, everything)) {
    // A cycle through an rw edge: back along ww and wr only is G-single, else G2.
    const members = new Set(component);
    const rw = component.flatMap((from) =>
      (edges.get(from) ?? []).filter((e) => e.kind === 'rw' && members.has(e.to)).map((edge) => ({ from, edge })),
    );
    const closed = (kinds: EdgeKind[]) =>
      rw.map((step) => ({ step, back: path(edges, allowed(kinds), component, step.edge.to, step.from) })).find((c) => c.back !== undefined);
    const single = closed(['ww', 'wr']);
    const any = single ?? closed(['ww', 'wr', 'rw']);
    if (any) report(single ? AnomalyKind.gSingle : AnomalyKind.g2, [any.step, ...any.back!]);
  }
  return found;
}

/** Strongly connected components of more than one transaction (Tarjan), over the edges `use` allows. */
function components(edges: Map<number, Edge[]>, use: (e: Edge) => boolean): number[][] {
  const index = new Map<number, number>();
  const low = new Map<number, number>();
  const stack: number[] = [];
  const onStack = new Set<number>();
  const result: number[][] = [];
  let counter = 0;
  const nodes = new Set<number>([...edges.keys(), ...[...edges.values()].flat().map((e) => e.to)]);
  // Iterative, so that a long history does not overflow the call stack.
  for (const root of nodes) {
    if (index.has(root)) continue;
    const work: Array<{ node: number; next: number }> = [{ node: root, next: 0 }];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const out = (edges.get(frame.node) ?? []).filter(use);
      if (frame.next < out.length) {
        const to = out[frame.next++]!.to;
        if (!index.has(to)) {
          index.set(to, counter);
          low.set(to, counter++);
          stack.push(to);
          onStack.add(to);
          work.push({ node: to, next: 0 });
        } else if (onStack.has(to)) low.set(frame.node, Math.min(low.get(frame.node)!, index.get(to)!));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: number[] = [];
        let member: number;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        if (component.length > 1) result.push(component);
      }
    }
  }
  return result;
}

/** A shortest path from `from` to `to` (a cycle when they are equal) inside one component (BFS). */
function path(
  edges: Map<number, Edge[]>,
  use: (e: Edge) => boolean,
  component: number[],
  from: number,
  to: number,
): Array<{ from: number; edge: Edge }> | undefined {
  const members = new Set(component);
  const via = new Map<number, { from: number; edge: Edge }>();
  const queue = [from];
  for (let head = 0; head < queue.length; head++) {
    const node = queue[head]!;
    for (const edge of (edges.get(node) ?? []).filter((e) => use(e) && members.has(e.to))) {
      if (edge.to === to) {
        const steps = [{ from: node, edge }];
        for (let at = node; at !== from; at = via.get(at)!.from) steps.unshift(via.get(at)!);
        return steps;
      }
      if (via.has(edge.to) || edge.to === from) continue;
      via.set(edge.to, { from: node, edge });
      queue.push(edge.to);
    }
  }
  return undefined;
}
