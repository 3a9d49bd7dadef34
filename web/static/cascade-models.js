// The objects a Cascade room hands to applications: participants, their track
// publications and errors. Field names follow TrackInfo and ParticipantInfo of
// proto/cascade/v1/models.proto, with every default filled in.

import { normTrackInfo, normParticipantInfo, SerialQueue } from './cascade-util.js';

/** Track kinds and sources as they appear on the wire. */
export const TrackKind = Object.freeze({ AUDIO: 'TRACK_KIND_AUDIO', VIDEO: 'TRACK_KIND_VIDEO' });
export const TrackSource = Object.freeze({
  UNSPECIFIED: 'TRACK_SOURCE_UNSPECIFIED',
  CAMERA: 'TRACK_SOURCE_CAMERA',
  MICROPHONE: 'TRACK_SOURCE_MICROPHONE',
  SCREEN_SHARE: 'TRACK_SOURCE_SCREEN_SHARE',
  SCREEN_SHARE_AUDIO: 'TRACK_SOURCE_SCREEN_SHARE_AUDIO',
});

/** An error reported by the SFU ({code, message, request}) or by the client itself. */
export class CascadeError extends Error {
  constructor(code, message, request = '') {
    super(message || code);
    this.name = 'CascadeError';
    this.code = code;
    this.request = request;
  }
}

/** A track another participant publishes. `track` and `stream` are set while subscribed. */
export class RemoteTrackPublication {
  constructor(info, room = null) {
    this.track = null; // MediaStreamTrack while subscribed
    this.stream = null; // the MediaStream with id "<participantSid>|<trackSid>"
    this.receiver = null;
    Object.defineProperty(this, '_room', { value: room, enumerable: false });
    this._update(info);
  }

  /**
   * Shows the track in el (a new <video> or <audio> when omitted) and, for video, reports
   * el's rendered size and visibility to the SFU (trackSettings), so it forwards the layer
   * that fits and pauses the track while no attached element is visible. Returns el.
   */
  attach(el) {
    if (!this.track) throw new Error(`cascade: track ${this.sid} is not subscribed`);
    if (!el) {
      el = document.createElement(this.isVideo ? 'video' : 'audio');
      el.autoplay = true;
      if (this.isVideo) {
        el.playsInline = true;
        el.muted = true;
      }
    }
    const cur = el.srcObject;
    if (!cur || cur.getTracks().length !== 1 || cur.getTracks()[0] !== this.track) el.srcObject = new MediaStream([this.track]);
    if (this._room) this._room._quality.attach(this.sid, el);
    return el;
  }

  /**
   * Stops showing the track in el (every attached element when omitted): clears srcObject
   * and stops reporting the element. Returns the detached elements.
   */
  detach(el) {
    const els = el ? [el] : this.attachedElements;
    if (this._room) this._room._quality.detach(this.sid, el);
    for (const e of els) {
      const ms = e.srcObject;
      if (ms && ms.getTracks().includes(this.track)) e.srcObject = null;
    }
    return els;
  }

  /** The elements the track is attached to. */
  get attachedElements() {
    return this._room ? this._room._quality.elements(this.sid) : [];
  }

  /**
   * Sets what this client wants of the track: {maxRid: ''|'q'|'h'|'f', priority, pinned,
   * disabled}. Omitted fields keep their value. Returns the resulting preferences.
   */
  setPreferences(prefs) {
    if (!this._room) throw new Error('cascade: publication without a room');
    return this._room.setTrackPreferences(this.sid, prefs);
  }

  /** Pins (priority PIN_PRIORITY) or unpins (priority 0) the track. */
  setPinned(pinned) {
    return this.setPreferences({ pinned: !!pinned });
  }

  /** {maxRid, priority, disabled} as last set. */
  get preferences() {
    return this._room ? this._room.trackPreferences(this.sid) : { maxRid: '', priority: 0, disabled: false };
  }

  get pinned() {
    return this.preferences.priority > 0;
  }

  /** What the SFU says the track gets ({state, currentRid, targetRid, reason, ...}), or null. */
  get streamState() {
    return this._room ? this._room.streamState(this.sid) : null;
  }

  _update(info) {
    this.info = normTrackInfo(info);
    Object.assign(this, this.info);
  }

  get isAudio() {
    return this.kind === TrackKind.AUDIO;
  }

  get isVideo() {
    return this.kind === TrackKind.VIDEO;
  }

  get isSubscribed() {
    return this.track !== null;
  }
}

/** A track this client publishes. */
export class LocalTrackPublication {
  constructor(track, source, name) {
    this.track = track;
    this.cid = track.id;
    this.kind = track.kind === 'video' ? TrackKind.VIDEO : TrackKind.AUDIO;
    this.source = source;
    this.name = name;
    this.muted = false;
    this.sid = ''; // set once the SFU accepts the track
    this.info = null;
    this.transceiver = null;
    this.simulcast = false;
    this.subscribedLayers = null; // [{rid, active}] from the SFU's last subscribedLayers (dynacast)
    Object.defineProperty(this, '_layerQueue', { value: new SerialQueue(), enumerable: false });
  }

  get sender() {
    return this.transceiver ? this.transceiver.sender : null;
  }
}

class Participant {
  constructor(info) {
    this.tracks = new Map(); // trackSid -> publication
    this.isSpeaking = false;
    this.audioLevel = 0;
    this._apply(normParticipantInfo(info));
  }

  _apply(info) {
    this.sid = info.sid || this.sid;
    this.identity = info.identity || this.identity || '';
    this.name = info.name || this.name || '';
    this.metadata = info.metadata;
    this.joinedAtMs = info.joinedAtMs || this.joinedAtMs || 0;
    this.permission = info.permission;
  }

  /** The display name: name, else identity, else sid. */
  get displayName() {
    return this.name || this.identity || this.sid;
  }

  /** The first publication of the given source, if any. */
  trackBySource(source) {
    for (const t of this.tracks.values()) if (t.source === source) return t;
    return null;
  }
}

export class RemoteParticipant extends Participant {
  constructor(info, room = null) {
    super(info);
    for (const t of normParticipantInfo(info).tracks) this.tracks.set(t.sid, new RemoteTrackPublication(t, room));
  }
}

export class LocalParticipant extends Participant {}

/**
 * Applies a speakersChanged list (loudest first) to the participants' isSpeaking and
 * audioLevel and returns what the activeSpeakers event carries.
 */
export function applySpeakers(list, local, participants) {
  const speakers = list.map((s) => {
    const sid = s.participantSid || '';
    const isLocal = !!local && sid === local.sid;
    return {
      participantSid: sid,
      participant: isLocal ? local : participants.get(sid) || null,
      level: s.level || 0,
      active: s.active !== false,
      isLocal,
    };
  });
  const levels = new Map(speakers.map((s) => [s.participantSid, s.level]));
  const all = [...participants.values()];
  if (local) all.push(local);
  for (const p of all) {
    p.isSpeaking = levels.has(p.sid);
    p.audioLevel = levels.get(p.sid) || 0;
  }
  return speakers;
}
