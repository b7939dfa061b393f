/**
 * DIMSE command sets (PS3.7 6.3, 9.3.1): always implicit VR little endian, group 0000 only. Parses the
 * fields a C-STORE-RQ carries and encodes the C-STORE-RSP, without a general DICOM parser.
 */

/** Command Field values (PS3.7 9.3, E.1). */
export const CommandField = {
  CStoreRq: 0x0001,
  CStoreRsp: 0x8001,
  CEchoRq: 0x0030,
} as const;

/** Command Data Set Type (0000,0800): this value means "no data set"; anything else means one follows. */
export const NoDataSet = 0x0101;

/** Tags of group 0000 (element numbers). */
const Tag = {
  CommandGroupLength: 0x0000,
  AffectedSOPClassUID: 0x0002,
  CommandField: 0x0100,
  MessageID: 0x0110,
  MessageIDBeingRespondedTo: 0x0120,
  Priority: 0x0700,
  CommandDataSetType: 0x0800,
  Status: 0x0900,
  ErrorComment: 0x0902,
  AffectedSOPInstanceUID: 0x1000,
  MoveOriginatorApplicationEntityTitle: 0x1030,
  MoveOriginatorMessageID: 0x1031,
} as const;

export class CommandSetError extends Error {}

export interface CommandSet {
  commandField: number;
  messageId: number;
  commandDataSetType: number;
  affectedSopClassUid?: string;
  affectedSopInstanceUid?: string;
  priority?: number;
  moveOriginatorAeTitle?: string;
  moveOriginatorMessageId?: number;
}

function uidValue(b: Buffer): string {
  let end = b.length;
  while (end > 0 && (b[end - 1] === 0 || b[end - 1] === 0x20)) end -= 1;
  return b.toString('latin1', 0, end);
}

/** Parses a complete command set. Throws CommandSetError when it is malformed or lacks a required field. */
export function parseCommandSet(buf: Buffer): CommandSet {
  let pos = 0;
  let commandField: number | undefined;
  let messageId: number | undefined;
  let commandDataSetType: number | undefined;
  const out: Partial<CommandSet> = {};
  while (pos < buf.length) {
    if (pos + 8 > buf.length) throw new CommandSetError('command set truncated in an element header');
    const group = buf.readUInt16LE(pos);
    const element = buf.readUInt16LE(pos + 2);
    const length = buf.readUInt32LE(pos + 4);
    pos += 8;
    if (group !== 0x0000) throw new CommandSetError(`element (${group.toString(16)},${element.toString(16)}) outside group 0000 in a command set`);
    if (length === 0xffffffff || pos + length > buf.length) throw new CommandSetError('command set element value truncated');
    const v = buf.subarray(pos, pos + length);
    pos += length;
    const us = () => {
      if (length !== 2) throw new CommandSetError(`element (0000,${element.toString(16).padStart(4, '0')}) must be 2 bytes`);
      return v.readUInt16LE(0);
    };
    switch (element) {
      case Tag.AffectedSOPClassUID:
        out.affectedSopClassUid = uidValue(v);
        break;
      case Tag.CommandField:
        commandField = us();
        break;
      case Tag.MessageID:
        messageId = us();
        break;
      case Tag.Priority:
        out.priority = us();
        break;
      case Tag.CommandDataSetType:
        commandDataSetType = us();
        break;
      case Tag.AffectedSOPInstanceUID:
        out.affectedSopInstanceUid = uidValue(v);
        break;
      case Tag.MoveOriginatorApplicationEntityTitle:
        out.moveOriginatorAeTitle = v.toString('latin1').trim();
        break;
      case Tag.MoveOriginatorMessageID:
        out.moveOriginatorMessageId = us();
        break;
      default:
        break;
    }
  }
  if (commandField === undefined) throw new CommandSetError('command set has no CommandField (0000,0100)');
  if (commandDataSetType === undefined) throw new CommandSetError('command set has no CommandDataSetType (0000,0800)');
  return { ...out, commandField, messageId: messageId ?? 0, commandDataSetType };
}

function elementUs(element: number, value: number): Buffer {
  const b = Buffer.alloc(10);
  b.writeUInt16LE(0, 0);
  b.writeUInt16LE(element, 2);
  b.writeUInt32LE(2, 4);
  b.writeUInt16LE(value, 8);
  return b;
}

function elementText(element: number, text: string, pad: string): Buffer {
  const s = text.length % 2 === 0 ? text : text + pad;
  const b = Buffer.alloc(8 + s.length);
  b.writeUInt16LE(0, 0);
  b.writeUInt16LE(element, 2);
  b.writeUInt32LE(s.length, 4);
  b.write(s, 8, 'latin1');
  return b;
}

export interface CStoreResponseFields {
  affectedSopClassUid: string;
  affectedSopInstanceUid: string;
  messageIdBeingRespondedTo: number;
  status: number;
  /** LO: at most 64 characters are sent. */
  errorComment?: string;
}

/** Encodes a C-STORE-RSP command set (PS3.7 9.3.1.2), group length first, elements in tag order. */
export function encodeCStoreResponse(f: CStoreResponseFields): Buffer {
  const elements = [
    elementText(Tag.AffectedSOPClassUID, f.affectedSopClassUid, '\0'),
    elementUs(Tag.CommandField, CommandField.CStoreRsp),
    elementUs(Tag.MessageIDBeingRespondedTo, f.messageIdBeingRespondedTo),
    elementUs(Tag.CommandDataSetType, NoDataSet),
    elementUs(Tag.Status, f.status),
  ];
  if (f.errorComment) elements.push(elementText(Tag.ErrorComment, f.errorComment.replace(/[^\x20-\x7e]/g, '?').slice(0, 64), ' '));
  elements.push(elementText(Tag.AffectedSOPInstanceUID, f.affectedSopInstanceUid, '\0'));
  let length = 0;
  for (const e of elements) length += e.length;
  const groupLength = Buffer.alloc(12);
  groupLength.writeUInt16LE(0, 0);
  groupLength.writeUInt16LE(Tag.CommandGroupLength, 2);
  groupLength.writeUInt32LE(4, 4);
  groupLength.writeUInt32LE(length, 8);
  return Buffer.concat([groupLength, ...elements], 12 + length);
}
