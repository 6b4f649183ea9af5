/**
 * Live mission changes in the browser. The notification stream
 * (GET /notifications/stream, read by the bell) also carries
 * `event: mission` for every committed change in a mission the user is a
 * member of — ids only: {kind, mission_id, test_id?, version?, actor_id?} —
 * and `event: resync` when the server dropped some. The bell hands them to
 * this bus; open views (the board, a test page) subscribe while mounted and
 * re-read what changed through the API. A (re)connected stream also emits
 * a resync: events may have been missed while it was down.
 */

export type MissionEventKind =
  | 'test.updated'
  | 'test.added'
  | 'test.deleted'
  | 'tests.reordered'
  | 'tests.changed'
  | 'mission.updated'
  | 'mission.deleted'
  | 'members.changed'
  | 'categories.changed'
  | 'resync';

export interface MissionEvent {
  kind: MissionEventKind | string;
  mission_id: string;
  test_id?: string;
  version?: number;
  actor_id?: string;
}

type Listener = (ev: MissionEvent) => void;

function createBus() {
  const listeners = new Set<Listener>();
  return {
    /** Calls fn for every event until the returned function is called. */
    subscribe(fn: Listener): () => void {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    emit(ev: MissionEvent) {
      for (const fn of [...listeners]) {
        try {
          fn(ev);
        } catch {
          /* one view's failure does not stop the others */
        }
      }
    },
    get size() {
      return listeners.size;
    },
  };
}

export const missionEvents = createBus();

/** Parses the data of an `event: mission`; null when malformed. */
export function parseMissionEvent(data: string): MissionEvent | null {
  try {
    const v = JSON.parse(data) as Partial<MissionEvent>;
    if (typeof v?.kind !== 'string' || typeof v.mission_id !== 'string') return null;
    return {
      kind: v.kind,
      mission_id: v.mission_id,
      test_id: typeof v.test_id === 'string' ? v.test_id : undefined,
      version: typeof v.version === 'number' ? v.version : undefined,
      actor_id: typeof v.actor_id === 'string' ? v.actor_id : undefined,
    };
  } catch {
    return null;
  }
}

/** What a board showing `missionId` does with an event. */
export type BoardAction =
  | { do: 'ignore' }
  | { do: 'refetch-test'; testId: string }
  | { do: 'remove-test'; testId: string }
  | { do: 'reload-tests' }
  | { do: 'reload-mission' }
  | { do: 'reload-side' }
  | { do: 'gone' };

/**
 * The board's reaction to an event (pure, unit tested). `known` is the
 * version of the test as the board shows it (undefined when it does not
 * show it); `filtered` says whether a tactic or text filter is active (a
 * refetched test might not match it: reload the filtered list instead).
 */
export function boardAction(ev: MissionEvent, missionId: string, known: number | undefined, filtered: boolean): BoardAction[] {
  if (ev.kind === 'resync') return [{ do: 'reload-mission' }, { do: 'reload-tests' }, { do: 'reload-side' }];
  if (ev.mission_id !== missionId) return [{ do: 'ignore' }];
  switch (ev.kind) {
    case 'test.updated':
    case 'test.added': {
      if (!ev.test_id) return [{ do: 'reload-tests' }, { do: 'reload-mission' }];
      if (known !== undefined && ev.version !== undefined && ev.version <= known) return [{ do: 'ignore' }];
      return [filtered ? { do: 'reload-tests' } : { do: 'refetch-test', testId: ev.test_id }, { do: 'reload-mission' }];
    }
    case 'test.deleted':
      return ev.test_id ? [{ do: 'remove-test', testId: ev.test_id }, { do: 'reload-mission' }] : [{ do: 'reload-tests' }];
    case 'tests.reordered':
    case 'tests.changed':
      return [{ do: 'reload-tests' }, { do: 'reload-mission' }, { do: 'reload-side' }];
    case 'mission.updated':
    case 'members.changed':
      return [{ do: 'reload-mission' }];
    case 'categories.changed':
      return [{ do: 'reload-side' }, { do: 'reload-tests' }];
    case 'mission.deleted':
      return [{ do: 'gone' }];
    default:
      return [{ do: 'reload-tests' }];
  }
}
