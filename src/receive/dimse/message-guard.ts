/**
 * Bounded memory per association (DIMSE level, PS3.7 6.3 and 9.3): follows the messages inside the P-DATA
 * PDUs of an association before anything buffers them, and says when the association must be aborted:
 * - P-DATA before the association was accepted;
 * - a command whose kind never carries a data set (C-ECHO, C-CANCEL, responses without one, N-GET and
 *   N-DELETE requests) but whose CommandDataSetType announces one: aborted at its command, before any data;
 * - a data fragment with no command announcing it, or a command fragment in the middle of a data set;
 * - a command set longer than 64 KiB;
 * - more than `maxBufferedBytes` of one message's data set, except C-STORE-RQ data sets (the node streams
 *   them to disk: fast path or the library's writable stream).
 * Pure (no I/O), unit-tested.
 */
import { CommandSetError, NoDataSet, parseCommandSet } from './command-set';
import { PDataError, parsePDataParts, pduType, type PduBytes } from './p-data';

/** Command Field values of messages that never carry a data set (PS3.7 9.3 and 10.3). */
const NeverDataSet = new Set([
  0x0030, // C-ECHO-RQ
  0x8030, // C-ECHO-RSP
  0x8001, // C-STORE-RSP
  0x0fff, // C-CANCEL-RQ
  0x0110, // N-GET-RQ
  0x0150, // N-DELETE-RQ
  0x8150, // N-DELETE-RSP
]);
const CStoreRq = 0x0001;
export const MAX_COMMAND_BYTES = 64 * 1024;

export type MessageViolation =
  | { kind: 'data-before-acceptance' }
  | { kind: 'malformed-p-data'; message: string }
  | { kind: 'data-set-not-allowed'; commandField: number }
  | { kind: 'unexpected-fragment'; message: string }
  | { kind: 'command-too-long' }
  | { kind: 'message-too-large'; bytes: number };

type State =
  | { kind: 'idle' }
  | { kind: 'command'; presentationContextId: number; parts: Buffer[]; bytes: number }
  | { kind: 'data'; presentationContextId: number; streamed: boolean; bytes: number };

export class MessageGuard {
  private state: State = { kind: 'idle' };

  constructor(private readonly limits: { maxBufferedBytes: number }) {}

  /** Checks one whole PDU; `accepted` says whether A-ASSOCIATE-AC was sent. Non-P-DATA PDUs pass. */
  push(pdu: PduBytes, accepted: boolean): MessageViolation | undefined {
    if (pduType(pdu) !== 0x04) return undefined;
    if (!accepted) return { kind: 'data-before-acceptance' };
    let pdvs;
    try {
      pdvs = parsePDataParts(pdu);
    } catch (err) {
      return { kind: 'malformed-p-data', message: (err as PDataError).message };
    }
    for (const pdv of pdvs) {
      const s = this.state;
      if (pdv.isCommand) {
        if (s.kind === 'data') return { kind: 'unexpected-fragment', message: 'command fragment inside a data set' };
        if (s.kind === 'command' && s.presentationContextId !== pdv.presentationContextId) {
          return { kind: 'unexpected-fragment', message: 'command fragments on two presentation contexts' };
        }
        const cmd = s.kind === 'command' ? s : { kind: 'command' as const, presentationContextId: pdv.presentationContextId, parts: [], bytes: 0 };
        cmd.parts.push(...pdv.parts);
        cmd.bytes += pdv.length;
        if (cmd.bytes > MAX_COMMAND_BYTES) return { kind: 'command-too-long' };
        if (!pdv.isLast) {
          this.state = cmd;
          continue;
        }
        this.state = { kind: 'idle' };
        let command;
        try {
          command = parseCommandSet(cmd.parts.length === 1 ? cmd.parts[0]! : Buffer.concat(cmd.parts));
        } catch (err) {
          // A malformed command set announces nothing we can trust: whoever handles it refuses it. Data
          // fragments that follow are unexpected.
          void (err as CommandSetError);
          continue;
        }
        if (command.commandDataSetType === NoDataSet) continue;
        if (NeverDataSet.has(command.commandField)) return { kind: 'data-set-not-allowed', commandField: command.commandField };
        this.state = { kind: 'data', presentationContextId: cmd.presentationContextId, streamed: command.commandField === CStoreRq, bytes: 0 };
      } else {
        if (s.kind !== 'data' || s.presentationContextId !== pdv.presentationContextId) {
          return { kind: 'unexpected-fragment', message: 'data fragment without a command announcing it' };
        }
        s.bytes += pdv.length;
        if (!s.streamed && s.bytes > this.limits.maxBufferedBytes) return { kind: 'message-too-large', bytes: s.bytes };
        if (pdv.isLast) this.state = { kind: 'idle' };
      }
    }
    return undefined;
  }
}
