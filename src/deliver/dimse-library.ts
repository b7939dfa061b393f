/**
 * The one place the deliver stage touches dcmjs-dimse's process-wide state: its `loglevel` logger, which
 * the library leaves at enableAll (one INFO line per DIMSE message, with AE titles and UIDs). Outcomes
 * that matter are reported by our own code to our own logger instead.
 */
import { log as dimseLog } from 'dcmjs-dimse';

let quieted = false;

/** Sets the library's logger to 'silent' (idempotent). */
export function quietDimseLibrary(): void {
  if (quieted) return;
  dimseLog.setLevel('silent');
  quieted = true;
}
