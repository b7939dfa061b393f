/** The node as a device in what it writes (SR device observer, equipment modules, ContributingEquipment). */
import os from 'node:os';
import { deterministicUid } from '../dicom/uids';
import type { DeviceIdentity } from '../encode/types';

export const SOFTWARE_VERSION = '0.1.0';

export function nodeDeviceIdentity(aeTitle: string): DeviceIdentity {
  const host = os.hostname().slice(0, 64);
  return {
    name: `NPC AI node ${aeTitle}`.slice(0, 64),
    manufacturer: 'NPC AI node project',
    modelName: 'npc-ai-node',
    softwareVersion: SOFTWARE_VERSION,
    deviceUid: deterministicUid(`npcai-device|${host}|${aeTitle}`),
    serialNumber: host,
  };
}
