// Small helpers shared by the Cascade browser client: an event emitter, a serial task
// queue, base64 for DataPacket payloads and normalisation of proto3 JSON messages (which
// omit every field at its default value and may carry enums as numbers).

/** A minimal event emitter: on/off/once, listeners never break the emitter. */
export class Emitter {
  constructor() {
    this._listeners = new Map();
  }

  /** Adds a listener and returns a function that removes it. */
  on(event, fn) {
    let set = this._listeners.get(event);
    if (!set) {
      set = new Set();
      this._listeners.set(event, set);
    }
    set.add(fn);
    return () => this.off(event, fn);
  }

  off(event, fn) {
    const set = this._listeners.get(event);
    if (set) set.delete(fn);
  }

  once(event, fn) {
    const off = this.on(event, (...args) => {
      off();
      fn(...args);
    });
    return off;
  }

  emit(event, ...args) {
    const set = this._listeners.get(event);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(...args);
      } catch (err) {
        console.error(`cascade: "${event}" listener threw`, err);
      }
    }
  }
}

/**
 * Runs async tasks one at a time, in the order they were added. A failing task rejects
 * its own promise and does not stop the queue.
 */
export class SerialQueue {
  constructor() {
    this._tail = Promise.resolve();
  }

  run(task) {
    const result = this._tail.then(() => task());
    this._tail = result.catch(() => {});
    return result;
  }
}

/** Rejects with an Error naming what timed out if p has not settled within ms. */
export function withTimeout(p, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** A promise with its resolve and reject functions exposed. */
export function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export function bytesToBase64(bytes) {
  let bin = '';
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    bin += String.fromCharCode.apply(null, bytes.subarray(i, i + chunk));
  }
  return btoa(bin);
}

export function base64ToBytes(b64) {
  if (!b64) return new Uint8Array(0);
  // proto3 JSON parsers accept URL-safe base64 too; be as lenient when reading.
  const bin = atob(b64.replace(/-/g, '+').replace(/_/g, '/'));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function toBytes(data) {
  if (typeof data === 'string') return new TextEncoder().encode(data);
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError('cascade: data must be a string, ArrayBuffer or typed array');
}

// Enum names by number, for servers (or proxies) that send enums as numbers.
const ENUMS = {
  kind: ['TRACK_KIND_UNSPECIFIED', 'TRACK_KIND_AUDIO', 'TRACK_KIND_VIDEO', 'TRACK_KIND_DATA'],
  source: [
    'TRACK_SOURCE_UNSPECIFIED',
    'TRACK_SOURCE_CAMERA',
    'TRACK_SOURCE_MICROPHONE',
    'TRACK_SOURCE_SCREEN_SHARE',
    'TRACK_SOURCE_SCREEN_SHARE_AUDIO',
  ],
  leave: [
    'LEAVE_REASON_UNSPECIFIED',
    'LEAVE_REASON_CLIENT_REQUEST',
    'LEAVE_REASON_REMOVED',
    'LEAVE_REASON_ROOM_DELETED',
    'LEAVE_REASON_DUPLICATE_IDENTITY',
    'LEAVE_REASON_TIMEOUT',
    'LEAVE_REASON_TRANSPORT_FAILED',
    'LEAVE_REASON_SERVER_SHUTDOWN',
  ],
  dataKind: ['DATA_KIND_RELIABLE', 'DATA_KIND_LOSSY'],
  target: ['SIGNAL_TARGET_PUBLISHER', 'SIGNAL_TARGET_SUBSCRIBER'],
  streamState: ['STREAM_STATE_ACTIVE', 'STREAM_STATE_PAUSED_BANDWIDTH', 'STREAM_STATE_PAUSED_PREFERENCE'],
  error: [
    'ERROR_CODE_UNSPECIFIED',
    'ERROR_CODE_BAD_MESSAGE',
    'ERROR_CODE_UNKNOWN_MESSAGE',
    'ERROR_CODE_MESSAGE_TOO_LARGE',
    'ERROR_CODE_NOT_JOINED',
    'ERROR_CODE_ALREADY_JOINED',
    'ERROR_CODE_TOKEN_MISSING',
    'ERROR_CODE_TOKEN_INVALID',
    'ERROR_CODE_TOKEN_EXPIRED',
    'ERROR_CODE_ROOM_NOT_ALLOWED',
    'ERROR_CODE_PERMISSION_DENIED',
    'ERROR_CODE_BAD_SDP',
    'ERROR_CODE_NO_SUPPORTED_CODEC',
    'ERROR_CODE_TRACK_NOT_FOUND',
    'ERROR_CODE_ROOM_FULL',
    'ERROR_CODE_NEGOTIATION_FAILED',
    'ERROR_CODE_INVALID_ARGUMENT',
    'ERROR_CODE_INTERNAL',
    'ERROR_CODE_TIMEOUT',
  ],
};

/** Returns the enum name for v (a name, a number or undefined meaning the default). */
export function enumName(table, v) {
  const names = ENUMS[table];
  if (v === undefined || v === null) return names[0];
  if (typeof v === 'number') return names[v] || names[0];
  return String(v);
}

/** Parses a proto3 JSON int64 (a string, or a number from lenient encoders). */
export function int64(v) {
  if (v === undefined || v === null || v === '') return 0;
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
}

export function normLayer(l = {}) {
  return {
    rid: l.rid || '',
    width: l.width || 0,
    height: l.height || 0,
    bitrate: l.bitrate || 0,
  };
}

/** A TrackInfo with every field present. */
export function normTrackInfo(t = {}) {
  return {
    sid: t.sid || '',
    kind: enumName('kind', t.kind),
    source: enumName('source', t.source),
    name: t.name || '',
    muted: !!t.muted,
    width: t.width || 0,
    height: t.height || 0,
    simulcast: !!t.simulcast,
    layers: (t.layers || []).map(normLayer),
    mimeType: t.mimeType || t.mime_type || '',
    participantSid: t.participantSid || t.participant_sid || '',
  };
}

export function normPermission(p = {}) {
  return {
    canSubscribe: !!(p.canSubscribe ?? p.can_subscribe),
    canPublish: !!(p.canPublish ?? p.can_publish),
    canPublishData: !!(p.canPublishData ?? p.can_publish_data),
    canPublishSources: (p.canPublishSources || p.can_publish_sources || []).map((s) => enumName('source', s)),
    hidden: !!p.hidden,
  };
}

/** A ParticipantInfo with every field present (tracks stay raw TrackInfo, normalised). */
export function normParticipantInfo(p = {}) {
  return {
    sid: p.sid || '',
    identity: p.identity || '',
    name: p.name || '',
    metadata: p.metadata || '',
    tracks: (p.tracks || []).map(normTrackInfo),
    joinedAtMs: int64(p.joinedAtMs ?? p.joined_at_ms),
    permission: normPermission(p.permission || {}),
  };
}

export function normRoom(r = {}) {
  return {
    sid: r.sid || '',
    name: r.name || '',
    metadata: r.metadata || '',
    createdAtMs: int64(r.createdAtMs ?? r.created_at_ms),
    numParticipants: r.numParticipants || 0,
    maxParticipants: r.maxParticipants || 0,
  };
}

/** Converts proto IceServer messages into RTCIceServer dictionaries. */
export function toRTCIceServers(servers = []) {
  return servers
    .filter((s) => s && s.urls && s.urls.length)
    .map((s) => {
      const out = { urls: s.urls };
      if (s.username) out.username = s.username;
      if (s.credential) out.credential = s.credential;
      return out;
    });
}

/** Converts a proto IceCandidate into an RTCIceCandidateInit. */
export function candidateFromProto(c = {}) {
  c = c || {};
  const init = { candidate: c.candidate || '', sdpMLineIndex: c.sdpMlineIndex ?? c.sdp_mline_index ?? 0 };
  const mid = c.sdpMid ?? c.sdp_mid;
  if (mid) init.sdpMid = mid;
  const ufrag = c.usernameFragment ?? c.username_fragment;
  if (ufrag) init.usernameFragment = ufrag;
  return init;
}

/** Converts an RTCIceCandidate (null: end of candidates) into a proto IceCandidate. */
export function candidateToProto(c) {
  const cand = { candidate: c ? c.candidate : '' };
  if (c && c.sdpMid) cand.sdpMid = c.sdpMid;
  if (c && c.sdpMLineIndex) cand.sdpMlineIndex = c.sdpMLineIndex;
  if (c && c.usernameFragment) cand.usernameFragment = c.usernameFragment;
  return cand;
}

/** Returns the lower-case, underscore-free form of a request name ("add_track" -> "addtrack"). */
export function requestKey(name) {
  return String(name || '').replace(/_/g, '').toLowerCase();
}

// One RTCPeerConnection plus the remote ICE candidates that arrived before the remote
// description they belong to.
export class PeerConnection {
  constructor(config, target, onCandidate) {
    this.target = target;
    this.pc = new RTCPeerConnection(config);
    this.pendingCandidates = [];
    this.pc.onicecandidate = (ev) => onCandidate(target, ev.candidate);
  }

  async addRemoteCandidate(init) {
    if (!this.pc.remoteDescription) {
      this.pendingCandidates.push(init);
      return;
    }
    await this._add(init);
  }

  async setRemoteDescription(desc) {
    await this.pc.setRemoteDescription(desc);
    const pending = this.pendingCandidates;
    this.pendingCandidates = [];
    for (const c of pending) await this._add(c);
  }

  async _add(init) {
    try {
      await this.pc.addIceCandidate(init);
    } catch (err) {
      console.warn(`cascade: ${this.target} rejected a remote candidate`, init, err);
    }
  }

  close() {
    this.pc.onicecandidate = null;
    this.pc.close();
  }
}
