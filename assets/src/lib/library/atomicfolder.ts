/**
 * Atomic import of a folder (a directory picker, `webkitdirectory`): the
 * browser hands over every file of the tree; only the Atomic YAML files are
 * sent. An atomics/ tree keeps payloads under src/ and bin/ and the combined
 * indexes under Indexes/, which are left out (the index repeats every test).
 */
export interface PickedFile {
  name: string;
  /** "atomics/T1059.001/T1059.001.yaml" for files picked with a folder; "" otherwise. */
  webkitRelativePath?: string;
}

const SKIP_DIRS = new Set(['src', 'bin', 'indexes', '.git', 'node_modules']);

export function atomicFolderFiles<T extends PickedFile>(files: readonly T[]): T[] {
  return files.filter((f) => {
    if (!/\.ya?ml$/i.test(f.name)) return false;
    const dirs = (f.webkitRelativePath || f.name).split('/').slice(0, -1);
    return !dirs.some((d) => SKIP_DIRS.has(d.toLowerCase()) || d.startsWith('.'));
  });
}
