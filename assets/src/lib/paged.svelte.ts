/**
 * The state of a list screen that shows one page of a server-side list
 * (`{items, total, page, per_page}`): the rows, the total, the page, whether
 * a load is running and the message of the last failed one.
 *
 *   const users = new PagedList((page, perPage) => listUsers({ q, page, per_page: perPage }), { perPage: 25 });
 *   onMount(() => void users.load(1));
 *   <Table rows={users.items} total={users.total} page={users.page} perPage={users.perPage}
 *          loading={users.loading} onpage={(p) => users.load(p)} />
 *
 * Loads can overlap (typing in a search box, paging quickly): only the
 * latest one's answer or error is applied, an older one arriving later is
 * dropped, and `loading` stays on until the latest one is done. The page
 * changes when its rows arrive, so a failed load keeps the page shown.
 */
import { errorMessage } from './api';

/** One page of a list, as the API answers it (`items` may be null for an empty list). */
export interface PageAnswer<T> {
  items: T[] | null;
  total: number;
}

export type PageFetcher<T> = (page: number, perPage: number) => Promise<PageAnswer<T>>;

export class PagedList<T> {
  items = $state<T[]>([]);
  total = $state(0);
  page = $state(1);
  loading = $state(true);
  /** The last load's failure, for the screen to show; null after a successful load. */
  error = $state<string | null>(null);
  readonly perPage: number;

  #fetch: PageFetcher<T>;
  #seq = 0;

  constructor(fetch: PageFetcher<T>, opts: { perPage: number; page?: number }) {
    this.#fetch = fetch;
    this.perPage = opts.perPage;
    this.page = Math.max(1, Math.floor(opts.page ?? 1) || 1);
  }

  /**
   * Loads page `page` (default: the current one). Resolves true when its
   * answer was applied, false when it failed or a later load superseded it.
   */
  async load(page: number = this.page): Promise<boolean> {
    const mine = ++this.#seq;
    this.loading = true;
    try {
      const r = await this.#fetch(page, this.perPage);
      if (mine !== this.#seq) return false;
      this.items = r.items ?? [];
      this.total = r.total;
      this.page = page;
      this.error = null;
      return true;
    } catch (err) {
      if (mine === this.#seq) this.error = errorMessage(err);
      return false;
    } finally {
      if (mine === this.#seq) this.loading = false;
    }
  }

  /** Loads the current page again (after a change to one of its rows). */
  reload(): Promise<boolean> {
    return this.load(this.page);
  }

  /**
   * After deleting a row: the current page again, or the one before when
   * the row was the last on a page past the first.
   */
  reloadAfterRemoving(): Promise<boolean> {
    return this.load(this.items.length === 1 && this.page > 1 ? this.page - 1 : this.page);
  }
}
