/**
 * SR header modules: SR Document Series, SR Document General (evidence, predecessors), SOP Common with
 * Contributing Equipment (IHE AIR), and the choice of SOP class per destination.
 */
import type { ImageRef, ModelIdentity } from '../../analyses/types';
import { SopClass } from '../../dicom/uids';
import type { DeviceIdentity, ObjectRef, SrSopClassSetting } from '../types';
import type { NaturalDataset } from '../write-part10';
import { codeSequenceItem, Dcm } from './codes';
import { formatDicomDateTime } from '../common-modules';
import { modelDeviceUid } from '../identity';
import { referencedSopItem } from './content-items';

export const SR_SOP_CLASSES: Record<SrSopClassSetting, string> = {
  comprehensive3d: SopClass.Comprehensive3dSr,
  comprehensive: SopClass.ComprehensiveSr,
  enhanced: SopClass.EnhancedSr,
};

/** Study > series > SOP references (Hierarchical SOP Instance Reference Macro). */
export function hierarchicalReferences(
  refs: (Pick<ImageRef, 'sopClassUid' | 'sopInstanceUid' | 'seriesInstanceUid'> & { studyInstanceUid: string })[],
): NaturalDataset[] {
  const studies = new Map<string, Map<string, Map<string, string>>>();
  for (const r of refs) {
    const series = studies.get(r.studyInstanceUid) ?? new Map<string, Map<string, string>>();
    studies.set(r.studyInstanceUid, series);
    const sops = series.get(r.seriesInstanceUid) ?? new Map<string, string>();
    series.set(r.seriesInstanceUid, sops);
    sops.set(r.sopInstanceUid, r.sopClassUid);
  }
  return [...studies.entries()].map(([studyUid, series]) => ({
    StudyInstanceUID: studyUid,
    ReferencedSeriesSequence: [...series.entries()].map(([seriesUid, sops]) => ({
      SeriesInstanceUID: seriesUid,
      ReferencedSOPSequence: [...sops.entries()].map(([sopInstanceUid, sopClassUid]) =>
        referencedSopItem({ sopClassUid, sopInstanceUid }),
      ),
    })),
  }));
}

/** SR Document Series module. */
export function srDocumentSeriesModule(seriesInstanceUid: string, seriesNumber: number): NaturalDataset {
  return {
    Modality: 'SR',
    SeriesInstanceUID: seriesInstanceUid,
    SeriesNumber: seriesNumber,
    SeriesDescription: 'NPC AI results (research use only)',
    ReferencedPerformedProcedureStepSequence: [],
  };
}

export interface SrDocumentGeneralOptions {
  instanceNumber: number;
  contentDate: string;
  contentTime: string;
  evidence: NaturalDataset[];
  otherEvidence: NaturalDataset[];
  predecessors: NaturalDataset[];
}

/** SR Document General module. */
export function srDocumentGeneralModule(o: SrDocumentGeneralOptions): NaturalDataset {
  const ds: NaturalDataset = {
    InstanceNumber: o.instanceNumber,
    CompletionFlag: 'COMPLETE',
    VerificationFlag: 'UNVERIFIED',
    ContentDate: o.contentDate,
    ContentTime: o.contentTime,
    PerformedProcedureCodeSequence: [],
    CurrentRequestedProcedureEvidenceSequence: o.evidence,
  };
  if (o.predecessors.length > 0) ds.PredecessorDocumentsSequence = o.predecessors;
  if (o.otherEvidence.length > 0) ds.PertinentOtherEvidenceSequence = o.otherEvidence;
  return ds;
}

/** ContributingEquipmentSequence: the node, then each distinct model that contributed (IHE AIR). */
export function contributingEquipment(device: DeviceIdentity, models: ModelIdentity[], when: Date): NaturalDataset[] {
  const purpose = [codeSequenceItem(Dcm.ProcessingEquipment)];
  const contributionDateTime = formatDicomDateTime(when);
  const items: NaturalDataset[] = [
    {
      Manufacturer: device.manufacturer,
      ManufacturerModelName: device.modelName,
      SoftwareVersions: device.softwareVersion,
      DeviceSerialNumber: device.serialNumber,
      DeviceUID: device.deviceUid,
      PurposeOfReferenceCodeSequence: purpose,
      ContributionDateTime: contributionDateTime,
      ContributionDescription: 'Automatic analysis of the MR study (research use only)',
    },
  ];
  const seen = new Set<string>();
  for (const m of models) {
    const key = `${m.id}@${m.version}#${m.sha256}`;
    if (seen.has(key)) continue;
    seen.add(key);
    items.push({
      Manufacturer: device.manufacturer,
      ManufacturerModelName: m.name.slice(0, 64),
      SoftwareVersions: m.version.slice(0, 64),
      DeviceUID: modelDeviceUid(m),
      PurposeOfReferenceCodeSequence: purpose,
      ContributionDateTime: contributionDateTime,
      ContributionDescription: `Model ${m.id} ${m.version} (sha256 ${m.sha256.slice(0, 16)}) on ${m.provider}`.slice(0, 64),
    });
  }
  return items;
}

/** Predecessor references in the hierarchical form, defaulting their study to the current one. */
export function predecessorReferences(predecessors: ObjectRef[], studyInstanceUid: string): NaturalDataset[] {
  return hierarchicalReferences(
    predecessors.map((p) => ({
      studyInstanceUid: p.studyInstanceUid ?? studyInstanceUid,
      seriesInstanceUid: p.seriesInstanceUid,
      sopInstanceUid: p.sopInstanceUid,
      sopClassUid: p.sopClassUid,
    })),
  );
}
