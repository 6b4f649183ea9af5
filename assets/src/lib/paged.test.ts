import { describe, expect, it } from 'vitest';
import { ApiError } from './api';
import { PagedList, type PageAnswer } from './paged.svelte';

/** A fetcher whose answers the test releases one by one, in any order. */
function server<T>() {
  const calls: { page: number; perPage: number; resolve: (a: PageAnswer<T>) => void; reject: (e: unknown) => void }[] = [];
  const fetch = (page: number, perPage: number) =>
    new Promise<PageAnswer<T>>((resolve, reject) => calls.push({ page, perPage, resolve, reject }));
  return { calls, fetch };
}

describe('PagedList', () => {
  it('starts loading on the given page and applies an answer', async () => {
    const s = server<string>();
    const list = new PagedList(s.fetch, { perPage: 25, page: 3 });
    expect([list.page, list.loading, list.items, list.total, list.error]).toEqual([3, true, [], 0, null]);

    const done = list.load();
    expect(s.calls.map((c) => [c.page, c.perPage])).toEqual([[3, 25]]);
    s.calls[0].resolve({ items: ['a', 'b'], total: 52 });
    await expect(done).resolves.toBe(true);
    expect([list.page, list.loading, list.items, list.total, list.error]).toEqual([3, false, ['a', 'b'], 52, null]);
  });

  it('reads a null items list as empty, and bad start pages as the first', async () => {
    const s = server<string>();
    const list = new PagedList(s.fetch, { perPage: 10, page: Number('x') });
    expect(list.page).toBe(1);
    const done = list.load();
    s.calls[0].resolve({ items: null, total: 0 });
    await done;
    expect(list.items).toEqual([]);
    expect(new PagedList(s.fetch, { perPage: 10, page: -4 }).page).toBe(1);
  });

  it('applies only the latest of overlapping loads', async () => {
    const s = server<string>();
    const list = new PagedList(s.fetch, { perPage: 25 });
    const first = list.load(1);
    const second = list.load(2);

    s.calls[1].resolve({ items: ['page 2'], total: 30 });
    await expect(second).resolves.toBe(true);
    expect([list.page, list.items, list.loading]).toEqual([2, ['page 2'], false]);

    // The older answer arrives last: dropped.
    s.calls[0].resolve({ items: ['page 1'], total: 30 });
    await expect(first).resolves.toBe(false);
    expect([list.page, list.items, list.loading]).toEqual([2, ['page 2'], false]);

    // While a newer load runs, an older one finishing does not end `loading`, nor its failure show.
    const third = list.load(1);
    const fourth = list.load(2);
    s.calls[2].reject(new ApiError({ status: 500, code: 'internal', message: 'Old failure.' }));
    await expect(third).resolves.toBe(false);
    expect([list.loading, list.error]).toEqual([true, null]);
    s.calls[3].resolve({ items: ['page 2 again'], total: 30 });
    await fourth;
    expect([list.loading, list.error, list.items]).toEqual([false, null, ['page 2 again']]);
  });

  it('keeps the page and rows shown when a load fails, with the server message; the next success clears it', async () => {
    const s = server<string>();
    const list = new PagedList(s.fetch, { perPage: 25 });
    const ok = list.load(2);
    s.calls[0].resolve({ items: ['x'], total: 26 });
    await ok;

    const failed = list.load(1);
    s.calls[1].reject(new ApiError({ status: 503, code: 'unavailable', message: 'The database is unreachable.' }));
    await expect(failed).resolves.toBe(false);
    expect([list.page, list.items, list.loading, list.error]).toEqual([2, ['x'], false, 'The database is unreachable.']);

    const retry = list.reload();
    expect(s.calls[2].page).toBe(2);
    s.calls[2].resolve({ items: ['x'], total: 26 });
    await retry;
    expect(list.error).toBeNull();
  });

  it('after removing the last row of a later page, goes back one page', async () => {
    const s = server<string>();
    const list = new PagedList(s.fetch, { perPage: 25 });
    const load = list.load(3);
    s.calls[0].resolve({ items: ['only'], total: 51 });
    await load;

    const back = list.reloadAfterRemoving();
    expect(s.calls[1].page).toBe(2);
    s.calls[1].resolve({ items: Array(25).fill('r'), total: 50 });
    await back;
    expect(list.page).toBe(2);

    // Several rows left on the page, or the first page: the same page.
    const same = list.reloadAfterRemoving();
    expect(s.calls[2].page).toBe(2);
    s.calls[2].resolve({ items: ['r'], total: 26 });
    await same;
    const p1 = new PagedList(s.fetch, { perPage: 25 });
    void p1.reloadAfterRemoving();
    expect(s.calls[3].page).toBe(1);
  });
});
