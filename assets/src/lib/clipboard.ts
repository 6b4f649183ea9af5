/**
 * Copy to the clipboard and save as a file, without any network request.
 * navigator.clipboard needs a secure context (https, localhost); on a plain
 * http team server the fallback selects a hidden textarea and uses the
 * legacy copy command.
 */

export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    /* denied or unavailable: try the fallback */
  }
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.className = 'visually-hidden';
  const host = document.activeElement?.closest('dialog') ?? document.body;
  const previous = document.activeElement as HTMLElement | null;
  host.appendChild(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  ta.remove();
  previous?.focus?.();
  return ok;
}

/** Saves `text` as a file through a blob: URL (the CSP allows blob:, nothing leaves the browser). */
export function downloadText(filename: string, text: string, type = 'text/plain;charset=utf-8'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.rel = 'noopener';
  a.className = 'visually-hidden';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
