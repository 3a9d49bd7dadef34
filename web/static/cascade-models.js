// The objects a Cascade room hands to applications: participants, their track
// publications and errors. Field names follow TrackInfo and ParticipantInfo of
// proto/cascade/v1/models.proto, with every default filled in.

import { normTrackInfo, normParticipantInfo } from './cascade-util.js';

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
  constructor(info) {
    this.track = null; // MediaStreamTrack while subscribed
    this.stream = null; // the MediaStream with id "<participantSid>|<trackSid>"
    this.receiver = null;
    this._update(info);
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
  constructor(info) {
    super(info);
    for (const t of normParticipantInfo(info).tracks) this.tracks.set(t.sid, new RemoteTrackPublication(t));
  }
}

export class LocalParticipant extends Participant {}
