/**
 * Prints `e2e: N passed, N failed` as the last line of the run (from onExit,
 * after every other reporter and the global teardown). Flaky tests that passed
 * on retry count as passed; errors outside tests (global setup failing, no
 * tests found) count as failed, so a broken run never reads "0 failed".
 */
import type { FullResult, Reporter, Suite, TestError } from '@playwright/test/reporter';

export default class SummaryReporter implements Reporter {
  #suite: Suite | undefined;
  #errors = 0;
  #status: FullResult['status'] | undefined;

  onBegin(_config: unknown, suite: Suite) {
    this.#suite = suite;
  }

  onError(_error: TestError) {
    this.#errors++;
  }

  onEnd(result: FullResult) {
    this.#status = result.status;
  }

  async onExit(): Promise<void> {
    let passed = 0;
    let failed = 0;
    for (const test of this.#suite?.allTests() ?? []) {
      const outcome = test.outcome();
      if (outcome === 'expected' || outcome === 'flaky') passed++;
      else if (outcome === 'unexpected') failed++;
    }
    failed += this.#errors;
    if (failed === 0 && this.#status && this.#status !== 'passed') failed = 1; // interrupted or timed out
    process.stdout.write(`e2e: ${passed} passed, ${failed} failed\n`);
  }

  printsToStdio() {
    return true;
  }
}
