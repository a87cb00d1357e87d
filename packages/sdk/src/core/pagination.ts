import type { PageOf } from "@vi/protocol";
import { ViServerError } from "./errors.js";

/** One page of a list: the wire's `{items, nextPage, prevPage, totalCount?}`. */
export type Page<T> = PageOf<T>;

/** Fetches the page that `pageToken` names (the first page when undefined). */
export type PageFetcher<T> = (pageToken: string | undefined) => Promise<Page<T>>;

/**
 * A list call: awaiting it gives the first page; `for await` walks every page by following
 * `nextPage` until it is null; `.items()` walks every item of every page. It is a
 * `Promise<Page<T>>` (then, catch, finally), so it stands wherever one is expected. The first
 * request is made lazily, on the first `then`/`catch`/`finally` or iteration, so that an unused
 * PagePromise never leaves a rejected promise behind.
 */
export class PagePromise<T> implements Promise<Page<T>>, AsyncIterable<Page<T>> {
  readonly #fetch: PageFetcher<T>;
  readonly #firstToken: string | undefined;
  #first: Promise<Page<T>> | undefined;

  constructor(fetch: PageFetcher<T>, firstToken?: string) {
    this.#fetch = fetch;
    this.#firstToken = firstToken;
  }

  #firstPage(): Promise<Page<T>> {
    this.#first ??= this.#call(this.#firstToken);
    return this.#first;
  }

  /** A fetcher that throws (a bad option found before any request) rejects, never throws at `then`/`catch`. */
  #call(token: string | undefined): Promise<Page<T>> {
    try {
      return this.#fetch(token);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  then<R1 = Page<T>, R2 = never>(
    onFulfilled?: ((page: Page<T>) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#firstPage().then(onFulfilled, onRejected);
  }

  catch<R = never>(onRejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<Page<T> | R> {
    return this.#firstPage().catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<Page<T>> {
    return this.#firstPage().finally(onFinally);
  }

  get [Symbol.toStringTag](): string {
    return "PagePromise";
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Page<T>> {
    let page = await this.#firstPage();
    const seen = new Set<string>();
    yield page;
    while (page.nextPage !== null && page.nextPage !== undefined) {
      // A server that hands back a token it already gave would otherwise loop forever.
      if (seen.has(page.nextPage))
        throw new ViServerError("the server repeated a page token", { code: "InvalidResponse" });
      seen.add(page.nextPage);
      page = await this.#call(page.nextPage);
      yield page;
    }
  }

  async *items(): AsyncGenerator<T, void, undefined> {
    for await (const page of this) yield* page.items;
  }
}
