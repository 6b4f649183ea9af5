import { describe, expect, it, vi } from 'vitest';
import { boardAction, missionEvents, parseMissionEvent } from './live';

describe('mission events', () => {
  it('parses the stream data and refuses anything else', () => {
    expect(parseMissionEvent('{"kind":"test.updated","mission_id":"m","test_id":"t","version":3,"actor_id":"u"}')).toEqual({
      kind: 'test.updated', mission_id: 'm', test_id: 't', version: 3, actor_id: 'u',
    });
    expect(parseMissionEvent('{"kind":"tests.reordered","mission_id":"m"}')).toEqual({
      kind: 'tests.reordered', mission_id: 'm', test_id: undefined, version: undefined, actor_id: undefined,
    });
    expect(parseMissionEvent('nope')).toBeNull();
    expect(parseMissionEvent('{"kind":1,"mission_id":"m"}')).toBeNull();
  });

  it('delivers to subscribers until they leave; one failing listener does not stop the others', () => {
    const a = vi.fn(() => {
      throw new Error('boom');
    });
    const b = vi.fn();
    const offA = missionEvents.subscribe(a);
    const offB = missionEvents.subscribe(b);
    missionEvents.emit({ kind: 'test.updated', mission_id: 'm' });
    expect(a).toHaveBeenCalledTimes(1);
    expect(b).toHaveBeenCalledTimes(1);
    offA();
    offB();
    missionEvents.emit({ kind: 'test.updated', mission_id: 'm' });
    expect(b).toHaveBeenCalledTimes(1);
    expect(missionEvents.size).toBe(0);
  });

  it('tells the board what to do', () => {
    const ev = { kind: 'test.updated', mission_id: 'm', test_id: 't', version: 4 };
    expect(boardAction(ev, 'other', 3, false)).toEqual([{ do: 'ignore' }]);
    expect(boardAction(ev, 'm', 3, false)).toEqual([{ do: 'refetch-test', testId: 't' }, { do: 'reload-mission' }]);
    expect(boardAction(ev, 'm', 4, false)).toEqual([{ do: 'ignore' }]); // already shown (its own save)
    expect(boardAction(ev, 'm', 3, true)[0]).toEqual({ do: 'reload-tests' });
    expect(boardAction({ kind: 'test.deleted', mission_id: 'm', test_id: 't' }, 'm', 3, false)[0]).toEqual({ do: 'remove-test', testId: 't' });
    expect(boardAction({ kind: 'tests.reordered', mission_id: 'm' }, 'm', undefined, false)[0]).toEqual({ do: 'reload-tests' });
    expect(boardAction({ kind: 'mission.deleted', mission_id: 'm' }, 'm', undefined, false)).toEqual([{ do: 'gone' }]);
    expect(boardAction({ kind: 'resync', mission_id: '' }, 'm', undefined, false).map((a) => a.do)).toEqual([
      'reload-mission', 'reload-tests', 'reload-side',
    ]);
  });
});
