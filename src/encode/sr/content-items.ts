/**
 * Typed builders for SR content items (PS3.3 C.17.3): CONTAINER, CODE, NUM, TEXT, UIDREF, IMAGE, SCOORD.
 * Each returns a naturalized content-sequence item ready for dcmjs; each checks its arguments and throws
 * instead of producing an invalid item.
 */
import type { ImageRef } from '../../analyses/types';
import { isValidUid } from '../../dicom/uids';
import { codeSequenceItem, type CodedConcept } from './codes';
import type { NaturalDataset } from '../write-part10';

export type RelationshipType =
  | 'CONTAINS'
  | 'HAS PROPERTIES'
  | 'HAS OBS CONTEXT'
  | 'HAS ACQ CONTEXT'
  | 'HAS CONCEPT MOD'
  | 'INFERRED FROM'
  | 'SELECTED FROM';

export type ContentItem = NaturalDataset & { RelationshipType?: RelationshipType; ValueType: string };

/** Maximum characters of a DS value. */
const DS_MAX = 16;

/**
 * A number as a DICOM DS string of at most 16 characters, as precise as fits (no exponent for the ranges
 * the node reports; exponent form for tiny or huge values). Throws for NaN or infinity.
 */
export function formatDecimalString(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`not a finite number: ${value}`);
  if (value === 0) return '0';
  for (let digits = 15; digits >= 1; digits--) {
    let text = value.toPrecision(digits);
    if (text.includes('e')) {
      const [mantissa, exponent] = text.split('e') as [string, string];
      text = `${trimZeros(mantissa)}E${exponent.replace('+', '')}`;
    } else {
      text = trimZeros(text);
    }
    if (text.length <= DS_MAX) return text;
  }
  throw new Error(`cannot format ${value} as DS`);
}

function trimZeros(text: string): string {
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

function withChildren(item: ContentItem, children?: ContentItem[]): ContentItem {
  if (children && children.length > 0) item.ContentSequence = children;
  return item;
}

function requireText(value: string, what: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new Error(`${what}: empty text`);
  return value;
}

export interface ContainerOptions {
  continuity?: 'SEPARATE' | 'CONTINUOUS';
  /** Template identifier (DCMR) for ContentTemplateSequence, e.g. '1500'. */
  templateId?: string;
}

/** A CONTAINER item (or the document root when `relationship` is undefined). */
export function containerItem(
  relationship: RelationshipType | undefined,
  concept: CodedConcept,
  children: ContentItem[],
  options: ContainerOptions = {},
): ContentItem {
  const item: ContentItem = {
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [codeSequenceItem(concept)],
    ContinuityOfContent: options.continuity ?? 'SEPARATE',
  };
  if (relationship) item.RelationshipType = relationship;
  if (options.templateId) {
    item.ContentTemplateSequence = [{ MappingResource: 'DCMR', TemplateIdentifier: options.templateId }];
  }
  return withChildren(item, children);
}

export function codeItem(relationship: RelationshipType, concept: CodedConcept, value: CodedConcept, children?: ContentItem[]): ContentItem {
  return withChildren(
    {
      RelationshipType: relationship,
      ValueType: 'CODE',
      ConceptNameCodeSequence: [codeSequenceItem(concept)],
      ConceptCodeSequence: [codeSequenceItem(value)],
    },
    children,
  );
}

export function textItem(relationship: RelationshipType, concept: CodedConcept, value: string, children?: ContentItem[]): ContentItem {
  return withChildren(
    {
      RelationshipType: relationship,
      ValueType: 'TEXT',
      ConceptNameCodeSequence: [codeSequenceItem(concept)],
      TextValue: requireText(value, concept.meaning),
    },
    children,
  );
}

export function uidrefItem(relationship: RelationshipType, concept: CodedConcept, uid: string): ContentItem {
  if (!isValidUid(uid)) throw new Error(`${concept.meaning}: invalid UID ${uid}`);
  return {
    RelationshipType: relationship,
    ValueType: 'UIDREF',
    ConceptNameCodeSequence: [codeSequenceItem(concept)],
    UID: uid,
  };
}

/** A NUM item: NumericValue as DS (<= 16 chars) plus FloatingPointValue with full precision. */
export function numItem(
  relationship: RelationshipType,
  concept: CodedConcept,
  value: number,
  unit: CodedConcept,
  children?: ContentItem[],
): ContentItem {
  return withChildren(
    {
      RelationshipType: relationship,
      ValueType: 'NUM',
      ConceptNameCodeSequence: [codeSequenceItem(concept)],
      MeasuredValueSequence: [
        {
          MeasurementUnitsCodeSequence: [codeSequenceItem(unit)],
          NumericValue: formatDecimalString(value),
          FloatingPointValue: value,
        },
      ],
    },
    children,
  );
}

/** A referenced SOP sequence item for an image (with the frame for multi-frame sources). */
export function referencedSopItem(image: { sopClassUid: string; sopInstanceUid: string; frameNumber?: number }): NaturalDataset {
  if (!isValidUid(image.sopClassUid) || !isValidUid(image.sopInstanceUid)) {
    throw new Error(`invalid image reference ${image.sopClassUid} / ${image.sopInstanceUid}`);
  }
  const item: NaturalDataset = {
    ReferencedSOPClassUID: image.sopClassUid,
    ReferencedSOPInstanceUID: image.sopInstanceUid,
  };
  if (image.frameNumber !== undefined) item.ReferencedFrameNumber = image.frameNumber;
  return item;
}

/** An IMAGE item; `concept` may be omitted (Image Library entries). */
export function imageItem(
  relationship: RelationshipType,
  concept: CodedConcept | undefined,
  image: Pick<ImageRef, 'sopClassUid' | 'sopInstanceUid' | 'frameNumber'>,
  children?: ContentItem[],
): ContentItem {
  const item: ContentItem = {
    RelationshipType: relationship,
    ValueType: 'IMAGE',
    ReferencedSOPSequence: [referencedSopItem(image)],
  };
  if (concept) item.ConceptNameCodeSequence = [codeSequenceItem(concept)];
  return withChildren(item, children);
}

export type GraphicType = 'POINT' | 'MULTIPOINT' | 'POLYLINE' | 'CIRCLE' | 'ELLIPSE';

/**
 * A SCOORD item (2-D image coordinates: column, row; (0,0) is the top-left corner of the top-left pixel)
 * with its SELECTED FROM image. `concept` may be omitted (TID 320's SCOORD under a NUM's INFERRED FROM has
 * no concept name; PS3.3 C.17.3 requires one only for the value types that carry a value of their own).
 */
export function scoordItem(
  relationship: RelationshipType,
  concept: CodedConcept | undefined,
  graphicType: GraphicType,
  points: [number, number][],
  selectedFrom: Pick<ImageRef, 'sopClassUid' | 'sopInstanceUid' | 'frameNumber'>,
): ContentItem {
  if (points.length === 0 || points.some(([x, y]) => !Number.isFinite(x) || !Number.isFinite(y))) {
    throw new Error(`${concept?.meaning ?? 'SCOORD'}: SCOORD needs finite points`);
  }
  if (graphicType === 'POLYLINE' && points.length < 2) throw new Error('POLYLINE needs at least 2 points');
  const item: ContentItem = { RelationshipType: relationship, ValueType: 'SCOORD' };
  if (concept) item.ConceptNameCodeSequence = [codeSequenceItem(concept)];
  item.GraphicType = graphicType;
  item.GraphicData = points.flat();
  item.ContentSequence = [imageItem('SELECTED FROM', undefined, selectedFrom)];
  return item;
}

/** An IMAGE item referencing one segment of a Segmentation (ReferencedSegmentNumber in its SOP reference). */
export function segmentItem(
  relationship: RelationshipType,
  concept: CodedConcept,
  segmentation: { sopClassUid: string; sopInstanceUid: string },
  segmentNumber: number,
): ContentItem {
  if (!Number.isInteger(segmentNumber) || segmentNumber < 1) throw new Error(`${concept.meaning}: invalid segment number ${segmentNumber}`);
  return {
    RelationshipType: relationship,
    ValueType: 'IMAGE',
    ConceptNameCodeSequence: [codeSequenceItem(concept)],
    ReferencedSOPSequence: [{ ...referencedSopItem(segmentation), ReferencedSegmentNumber: segmentNumber }],
  };
}

/** The closed POLYLINE of a rectangle (x = column, y = row), first point repeated last. */
export function rectanglePolyline(box: { x0: number; y0: number; x1: number; y1: number }): [number, number][] {
  const x0 = Math.min(box.x0, box.x1);
  const x1 = Math.max(box.x0, box.x1);
  const y0 = Math.min(box.y0, box.y1);
  const y1 = Math.max(box.y0, box.y1);
  return [
    [x0, y0],
    [x1, y0],
    [x1, y1],
    [x0, y1],
    [x0, y0],
  ];
}
