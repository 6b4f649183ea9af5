/**
 * The stack of open modal dialogs (Dialog, Drawer). The topmost one hosts the
 * toast region, because everything outside a modal <dialog> is inert.
 */
class Modals {
  stack = $state<string[]>([]);

  get top(): string | undefined {
    return this.stack[this.stack.length - 1];
  }

  get open(): boolean {
    return this.stack.length > 0;
  }

  push(id: string) {
    if (!this.stack.includes(id)) this.stack = [...this.stack, id];
  }

  remove(id: string) {
    this.stack = this.stack.filter((x) => x !== id);
  }
}

export const modals = new Modals();
