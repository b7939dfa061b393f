/**
 * Stored-instance records for DICOM files that are not in the node's store (validation report, training
 * export, CLI tools): the same header reader and checks as ingest, without copying the files.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { openSource } from '../store/instance-store';
import { validateInstance } from '../store/instance-validation';
import type { StoredInstance } from '../store/instance-types';

export async function instancesFromFiles(files: string[], opts: { acceptedTransferSyntaxes: ReadonlySet<string> }): Promise<{ instances: StoredInstance[]; rejected: { path: string; reason: string }[] }> {
  const instances: StoredInstance[] = [];
  const rejected: { path: string; reason: string }[] = [];
  for (const file of files) {
    const { source, close } = await openSource(file);
    try {
      const v = validateInstance(source, { acceptedTransferSyntaxes: opts.acceptedTransferSyntaxes });
      if (!v.ok) {
        rejected.push({ path: file, reason: v.reason });
        continue;
      }
      instances.push({
        sopInstanceUid: v.header.SOPInstanceUID,
        sopClassUid: v.header.SOPClassUID,
        studyInstanceUid: v.header.StudyInstanceUID,
        seriesInstanceUid: v.header.SeriesInstanceUID,
        transferSyntaxUid: v.transferSyntaxUid,
        calledAeTitle: '',
        callingAeTitle: '',
        path: path.resolve(file),
        size: source.length,
        sha256: '',
        receivedAt: '',
        header: v.header,
      });
    } finally {
      close();
    }
  }
  return { instances, rejected };
}

/** Every *.dcm file under `dir` (recursively), sorted. */
export async function listDicomFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.toLowerCase().endsWith('.dcm')) out.push(path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
  }
  return out.sort();
}
