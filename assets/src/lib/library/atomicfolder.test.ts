import { describe, expect, it } from 'vitest';
import { atomicFolderFiles } from './atomicfolder';

describe('atomicFolderFiles', () => {
  it('keeps the Atomic YAML files of a tree and leaves out payloads, indexes and hidden folders', () => {
    const tree = [
      'atomics/T1059.001/T1059.001.yaml',
      'atomics/T1059.001/T1059.001.md',
      'atomics/T1059.001/src/payload.yaml',
      'atomics/T1003/T1003.yml',
      'atomics/Indexes/index.yaml',
      'atomics/.github/workflow.yaml',
      'atomics/T1003/bin/tool.exe',
    ].map((p) => ({ name: p.split('/').pop()!, webkitRelativePath: p }));
    expect(atomicFolderFiles(tree).map((f) => f.webkitRelativePath)).toEqual(['atomics/T1059.001/T1059.001.yaml', 'atomics/T1003/T1003.yml']);
  });

  it('keeps plain picked YAML files', () => {
    expect(atomicFolderFiles([{ name: 'T1.yaml', webkitRelativePath: '' }, { name: 'notes.txt' }])).toEqual([{ name: 'T1.yaml', webkitRelativePath: '' }]);
  });
});
