import { isUuid } from '../../domain/ids.ts';
import type { Db } from '../../db/db.ts';

export interface Actor {
  id: string;
  name: string;
  kind: 'node' | 'agent' | 'system';
}

/**
 * Resolves actor references (id or name) to actors. Actors are never renamed or deleted, so what
 * was found once is cached for the life of the process; misses are asked of the database.
 */
export function createActorDirectory(db: Db) {
  const byId = new Map<string, Actor>();
  const byName = new Map<string, Actor>();

  function remember(actor: Actor): void {
    byId.set(actor.id, actor);
    byName.set(actor.name, actor);
  }

  function cached(ref: string): Actor | undefined {
    return isUuid(ref) ? byId.get(ref.toLowerCase()) : byName.get(ref);
  }

  /** Map from every given reference to its actor; unknown references are absent. */
  async function resolve(refs: Iterable<string>): Promise<Map<string, Actor>> {
    const found = new Map<string, Actor>();
    const missing: string[] = [];
    const missingIds: string[] = [];
    const missingNames: string[] = [];
    for (const ref of new Set(refs)) {
      const actor = cached(ref);
      if (actor) found.set(ref, actor);
      else {
        missing.push(ref);
        if (isUuid(ref)) missingIds.push(ref.toLowerCase());
        else missingNames.push(ref);
      }
    }
    if (missingIds.length > 0 || missingNames.length > 0) {
      const { rows } = await db.query<Actor>('SELECT id, name, kind FROM actors WHERE id = ANY($1::uuid[]) OR name = ANY($2::text[])', [
        missingIds,
        missingNames,
      ]);
      rows.forEach(remember);
      for (const ref of missing) {
        const actor = cached(ref);
        if (actor) found.set(ref, actor);
      }
    }
    return found;
  }

  return { resolve, remember };
}

export type ActorDirectory = ReturnType<typeof createActorDirectory>;
