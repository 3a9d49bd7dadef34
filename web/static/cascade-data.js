// Data messages for the Cascade browser client: DataPacket objects in proto3 JSON, sent as
// text on the publisher's `_reliable` / `_lossy` channels and received on the SFU's.

import { withTimeout, bytesToBase64, base64ToBytes, toBytes, enumName } from './cascade-util.js';
import { CascadeError } from './cascade-models.js';

export const MAX_DATA_BYTES = 64 * 1024;

/** Encodes a DataPacket as JSON text; throws when it exceeds 64 KiB. */
export function encodeDataPacket(data, { reliable = true, topic = '', destinationIdentities = [] } = {}) {
  const pkt = { kind: reliable ? 'DATA_KIND_RELIABLE' : 'DATA_KIND_LOSSY', payload: bytesToBase64(toBytes(data)) };
  if (topic) pkt.topic = topic;
  if (destinationIdentities.length) pkt.destinationIdentities = [...destinationIdentities];
  const text = JSON.stringify(pkt);
  if (text.length > MAX_DATA_BYTES) throw new CascadeError('MESSAGE_TOO_LARGE', `data message of ${text.length} bytes exceeds 64 KiB`);
  return text;
}

/** Waits until dc is open (up to timeoutMs); rejects if it closes or is closed. */
export async function waitChannelOpen(dc, timeoutMs) {
  if (dc.readyState === 'connecting') {
    await withTimeout(
      new Promise((resolve, reject) => {
        dc.addEventListener('open', resolve, { once: true });
        dc.addEventListener('close', () => reject(new CascadeError('DATA_CLOSED', `${dc.label} closed`)), { once: true });
      }),
      timeoutMs,
      `opening ${dc.label}`,
    );
  }
  if (dc.readyState !== 'open') throw new CascadeError('DATA_CLOSED', `${dc.label} is ${dc.readyState}`);
}

/**
 * Decodes a message received on channel dc into what `dataReceived` carries, or null when it
 * is not a DataPacket. participantOf maps a participant sid to its participant.
 */
export function decodeDataMessage(data, dc, participantOf) {
  const raw = typeof data === 'string' ? data : new TextDecoder().decode(data);
  let pkt;
  try {
    pkt = JSON.parse(raw);
  } catch {
    console.warn(`cascade: non-JSON message on ${dc.label}`);
    return null;
  }
  const payload = base64ToBytes(pkt.payload || '');
  const psid = pkt.participantSid || '';
  return {
    payload,
    get text() {
      return new TextDecoder().decode(payload);
    },
    topic: pkt.topic || '',
    kind: enumName('dataKind', pkt.kind),
    channel: dc.label,
    participantSid: psid,
    participantIdentity: pkt.participantIdentity || '',
    participant: participantOf(psid),
  };
}
