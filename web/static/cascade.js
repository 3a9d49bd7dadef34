// Cascade browser client: joins a room on a Cascade SFU, publishes camera, microphone and
// screen, and receives everyone else. It speaks the signaling protocol of
// signaling/PROTOCOL.md: proto3 JSON frames over a WebSocket and two RTCPeerConnections,
// a publisher (this client offers) and a subscriber (the SFU offers).
//
// No build step and no dependencies: import it as an ES module.
//
//   import { Room } from '/cascade.js';
//   const room = new Room();
//   room.on('trackSubscribed', (track, pub, participant) => { ... });
//   await room.connect('ws://host:7700/v1/signal', token);
//   await room.publishCamera();

import {
  Emitter,
  SerialQueue,
  withTimeout,
  deferred,
  enumName,
  normTrackInfo,
  normParticipantInfo,
  normRoom,
  toRTCIceServers,
  requestKey,
  candidateFromProto,
  candidateToProto,
  PeerConnection,
} from './cascade-util.js';
import {
  TrackKind,
  TrackSource,
  CascadeError,
  RemoteTrackPublication,
  LocalTrackPublication,
  RemoteParticipant,
  LocalParticipant,
  applySpeakers,
} from './cascade-models.js';
import { StatsCollector } from './cascade-stats.js';
import {
  DEFAULT_SIMULCAST,
  describeTrack,
  preferCodec,
  publishCamera,
  publishMicrophone,
  publishScreenShare,
} from './cascade-media.js';
import { encodeDataPacket, waitChannelOpen, decodeDataMessage } from './cascade-data.js';
import { StreamState, PIN_PRIORITY, RoomQuality } from './cascade-quality.js';

export const VERSION = '0.2.0';

export {
  TrackKind,
  TrackSource,
  CascadeError,
  RemoteTrackPublication,
  LocalTrackPublication,
  RemoteParticipant,
  LocalParticipant,
  DEFAULT_SIMULCAST,
  StreamState,
  PIN_PRIORITY,
};

const RELIABLE = '_reliable';
const LOSSY = '_lossy';
const JOIN_TIMEOUT_MS = 10_000;
const ANSWER_TIMEOUT_MS = 15_000;
const PUBLISH_TIMEOUT_MS = 15_000;
// How long a received track may wait for the TrackInfo that describes it before it is
// announced with what the stream id alone tells.
const TRACK_INFO_GRACE_MS = 2_000;

/**
 * A connection to one Cascade room. Events (subscribe with on(name, fn)):
 *   connected(joinResponse)
 *   participantJoined(participant), participantLeft(participant, reason),
 *   participantUpdated(participant)
 *   trackPublished(publication, participant), trackUnpublished(publication, participant)
 *   trackSubscribed(track, publication, participant), trackUnsubscribed(track, publication, participant)
 *   trackMuted(publication, participant, muted)
 *   activeSpeakers([{participant, participantSid, level, isLocal}])
 *   dataReceived({payload, text, topic, kind, participant, participantSid, participantIdentity})
 *   localTrackPublished(publication), localTrackUnpublished(publication), localTrackMuted(publication, muted)
 *   subscription({trackSid, subscribed, error})
 *   streamStateChanged(state, publication, participant), bandwidthEstimateChanged(estimateBps)
 *   subscribedLayersChanged(localPublication, [{rid, active}])
 *   connectionStateChanged({target, state})
 *   disconnected(reason)
 *   error(CascadeError | Error)
 */
export class Room extends Emitter {
  /**
   * @param {object} [options]
   * @param {string} [options.videoCodec='VP8'] codec put first in published video offers
   * @param {boolean} [options.autoSubscribe=true] receive every track without asking
   * @param {string} [options.client] SDK name sent in join, for server logs
   * @param {boolean} [options.dynacast=true] turn simulcast encodings on and off as the SFU's subscribedLayers say
   * @param {number} [options.settingsDebounceMs=300] how long size and visibility changes settle before trackSettings
   * @param {'screen'|number} [options.pixelDensity='screen'] video pixels per CSS pixel of attached elements
   * @param {boolean} [options.pauseWhenPageHidden=true] pause attached video while the page is hidden
   */
  constructor(options = {}) {
    super();
    this.options = {
      videoCodec: 'VP8',
      autoSubscribe: true,
      client: `cascade-js/${VERSION}`,
      dynacast: true,
      settingsDebounceMs: 300,
      pixelDensity: 'screen',
      pauseWhenPageHidden: true,
      ...options,
    };
    this.state = 'idle'; // idle | connecting | connected | disconnected
    this.room = null;
    this.localParticipant = null;
    this.participants = new Map(); // sid -> RemoteParticipant
    this.joinResponse = null;
    this.rttMs = 0;

    this._ws = null;
    this._pub = null;
    this._sub = null;
    this._dcReliable = null;
    this._dcLossy = null;
    this._pubQueue = new SerialQueue(); // publisher negotiation and transceiver changes
    this._inbox = new SerialQueue(); // server messages, handled strictly in order
    this._negotiationQueued = false;
    this._offerId = 0;
    this._pendingAnswer = null; // {id, resolve, reject}
    this._pendingPublish = []; // [{cid, resolve, reject}], oldest first
    this._subscribed = new Map(); // trackSid -> {psid, tsid, track, stream, receiver, announced, timer}
    this._pingTimer = null;
    this._lastHeard = 0;
    this._stats = new StatsCollector();
    this._leaveReason = '';
    this._quality = new RoomQuality(this); // trackSettings, streamState, dynacast
  }

  // ---------------------------------------------------------------- connection

  /**
   * Opens the signaling WebSocket, joins with the access token and sets up both peer
   * connections. Resolves with the join response once joined.
   */
  async connect(url, token) {
    if (this.state !== 'idle') throw new CascadeError('INVALID_STATE', `cannot connect: room is ${this.state}`);
    this.state = 'connecting';
    const joined = deferred();
    joined.promise.catch(() => {}); // rejected by _teardown even when not awaited yet
    this._joined = joined;
    try {
      const ws = new WebSocket(url);
      this._ws = ws;
      ws.onmessage = (ev) => this._onFrame(ev.data);
      ws.onclose = (ev) => this._onSocketClose(ev);
      await withTimeout(
        new Promise((resolve, reject) => {
          ws.onopen = resolve;
          ws.onerror = () => reject(new CascadeError('CONNECT_FAILED', `cannot open ${url}`));
        }),
        JOIN_TIMEOUT_MS,
        'signaling connection',
      );
      ws.onerror = null;
      const join = { token, client: this.options.client };
      if (!this.options.autoSubscribe) join.noAutoSubscribe = true;
      this._send({ join });
      return await withTimeout(joined.promise, JOIN_TIMEOUT_MS, 'join');
    } catch (err) {
      this._teardown(err.message || String(err));
      throw err;
    }
  }

  /** Leaves the room: tells the SFU, closes everything and stops local tracks. */
  async disconnect() {
    if (this.state === 'disconnected' || this.state === 'idle') return;
    this._send({ leave: {} });
    this._teardown('LEAVE_REASON_CLIENT_REQUEST');
  }

  _send(msg) {
    const ws = this._ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(msg));
    return true;
  }

  _onFrame(data) {
    this._lastHeard = Date.now();
    let msg;
    try {
      msg = JSON.parse(data);
    } catch (err) {
      this.emit('error', new CascadeError('BAD_MESSAGE', `unparsable signaling frame: ${err.message}`));
      return;
    }
    this._inbox.run(() => this._handle(msg)).catch((err) => {
      console.error('cascade: handling a signaling message failed', msg, err);
      this.emit('error', err);
    });
  }

  _onSocketClose(ev) {
    if (this.state === 'disconnected') return;
    const reason = this._leaveReason || (ev.reason ? ev.reason : `signaling closed (${ev.code})`);
    this._teardown(reason);
  }

  _teardown(reason) {
    if (this.state === 'disconnected') return;
    const wasConnected = this.state === 'connected';
    this.state = 'disconnected';
    clearInterval(this._pingTimer);
    this._pingTimer = null;
    if (this._joined) this._joined.reject(new CascadeError('DISCONNECTED', reason));
    if (this._pendingAnswer) this._pendingAnswer.reject(new CascadeError('DISCONNECTED', reason));
    for (const p of this._pendingPublish) p.reject(new CascadeError('DISCONNECTED', reason));
    this._pendingPublish = [];
    for (const s of this._subscribed.values()) clearTimeout(s.timer);
    this._subscribed.clear();
    this._quality.close();
    if (this._ws) {
      this._ws.onmessage = null;
      this._ws.onclose = null;
      try {
        this._ws.close(1000);
      } catch {
        // already closed
      }
    }
    if (this._pub) this._pub.close();
    if (this._sub) this._sub.close();
    if (this.localParticipant) {
      for (const pub of this.localParticipant.tracks.values()) pub.track.stop();
    }
    if (wasConnected) this.emit('disconnected', reason);
  }

  _startKeepalive(intervalMs, timeoutMs) {
    this._lastHeard = Date.now();
    this._pingTimer = setInterval(() => {
      if (timeoutMs && Date.now() - this._lastHeard > timeoutMs) {
        this._teardown('LEAVE_REASON_TIMEOUT');
        return;
      }
      this._send({ ping: { timestampMs: String(Date.now()) } });
    }, intervalMs);
  }

  // ---------------------------------------------------------------- inbound messages

  async _handle(msg) {
    if (msg.join) return this._onJoin(msg.join);
    if (msg.offer) return this._onSubscriberOffer(msg.offer);
    if (msg.answer) return this._onPublisherAnswer(msg.answer);
    if (msg.trickle) return this._onTrickle(msg.trickle);
    if (msg.trackPublished) return this._onTrackPublishedResponse(msg.trackPublished);
    if (msg.participantJoined) return this._onParticipantJoined(msg.participantJoined.participant);
    if (msg.participantLeft) return this._onParticipantLeft(msg.participantLeft);
    if (msg.participantUpdated) return this._onParticipantUpdated(msg.participantUpdated.participant);
    if (msg.trackPublishedEvent) return this._onTrackPublishedEvent(msg.trackPublishedEvent);
    if (msg.trackUnpublished) return this._onTrackUnpublished(msg.trackUnpublished);
    if (msg.trackMuted) return this._onTrackMuted(msg.trackMuted);
    if (msg.speakersChanged) return this._onSpeakersChanged(msg.speakersChanged);
    if (msg.subscription) return this._onSubscription(msg.subscription);
    if (msg.streamState) return this._quality.onStreamState(msg.streamState);
    if (msg.subscribedLayers) return this._quality.onSubscribedLayers(msg.subscribedLayers);
    if (msg.pong) return this._onPong(msg.pong);
    if (msg.leave) return this._onLeave(msg.leave);
    if (msg.error) return this._onError(msg.error);
    console.warn('cascade: unknown signaling message', msg);
  }

  _onJoin(join) {
    if (this.state !== 'connecting') return;
    this.joinResponse = join;
    this.room = normRoom(join.room);
    this.localParticipant = new LocalParticipant(join.participant || {});
    for (const info of join.others || []) {
      const p = new RemoteParticipant(info, this);
      this.participants.set(p.sid, p);
    }
    const config = { iceServers: toRTCIceServers(join.iceServers), bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' };
    const onCandidate = (target, c) => this._sendCandidate(target, c);
    this._pub = new PeerConnection(config, 'SIGNAL_TARGET_PUBLISHER', onCandidate);
    this._sub = new PeerConnection(config, 'SIGNAL_TARGET_SUBSCRIBER', onCandidate);
    this._watchState(this._pub);
    this._watchState(this._sub);
    this._sub.pc.ontrack = (ev) => this._onRemoteTrack(ev);
    this._sub.pc.ondatachannel = (ev) => this._onRemoteDataChannel(ev.channel);
    // Data channels exist before the first offer, so that offer already carries them.
    this._dcReliable = this._pub.pc.createDataChannel(RELIABLE, { ordered: true });
    this._dcLossy = this._pub.pc.createDataChannel(LOSSY, { ordered: false, maxRetransmits: 0 });
    this._startKeepalive(join.pingIntervalMs || 5000, join.pingTimeoutMs || 0);
    this.state = 'connected';
    this._requestNegotiation();
    this._joined.resolve(join);
    this._joined = null;
    this.emit('connected', join);
  }

  _watchState(conn) {
    conn.pc.onconnectionstatechange = () => {
      const state = conn.pc.connectionState;
      const target = conn.target === 'SIGNAL_TARGET_PUBLISHER' ? 'publisher' : 'subscriber';
      this.emit('connectionStateChanged', { target, state });
      if (state === 'failed') this.emit('error', new CascadeError('TRANSPORT_FAILED', `${target} connection failed`));
    };
  }

  async _onSubscriberOffer(offer) {
    if (!this._sub) return;
    const pc = this._sub.pc;
    await this._sub.setRemoteDescription({ type: 'offer', sdp: offer.sdp });
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    const out = { type: 'answer', sdp: pc.localDescription.sdp };
    if (offer.id) out.id = offer.id;
    this._send({ answer: out });
  }

  _onPublisherAnswer(answer) {
    const pending = this._pendingAnswer;
    if (!pending) {
      console.warn('cascade: publisher answer without an outstanding offer', answer.id);
      return;
    }
    // An answer echoes its offer's id (absent when 0).
    if ((answer.id || 0) !== pending.id) {
      console.warn(`cascade: answer for offer ${answer.id || 0} while ${pending.id} is outstanding`);
      return;
    }
    this._pendingAnswer = null;
    pending.resolve(answer);
  }

  async _onTrickle(trickle) {
    const target = enumName('target', trickle.target);
    const conn = target === 'SIGNAL_TARGET_SUBSCRIBER' ? this._sub : this._pub;
    if (conn) await conn.addRemoteCandidate(candidateFromProto(trickle.candidate));
  }

  _sendCandidate(target, c) {
    // A null candidate (or an empty one) ends gathering; the protocol says so with "".
    if (!c && this._endSent && this._endSent[target]) return;
    if (!c) (this._endSent ||= {})[target] = true;
    this._send({ trickle: { target, candidate: candidateToProto(c) } });
  }

  _onTrackPublishedResponse(resp) {
    const cid = resp.cid || '';
    const i = this._pendingPublish.findIndex((p) => p.cid === cid);
    if (i < 0) {
      console.warn('cascade: trackPublished for an unknown cid', cid);
      return;
    }
    const [p] = this._pendingPublish.splice(i, 1);
    p.resolve(normTrackInfo(resp.track));
  }

  _onParticipantJoined(info) {
    const n = normParticipantInfo(info);
    if (!n.sid || (this.localParticipant && n.sid === this.localParticipant.sid)) return;
    let p = this.participants.get(n.sid);
    if (p) {
      p._apply(n);
      this.emit('participantUpdated', p);
    } else {
      p = new RemoteParticipant(info, this);
      this.participants.set(p.sid, p);
      this.emit('participantJoined', p);
    }
    this._bindWaitingTracks(p.sid);
  }

  _onParticipantLeft(left) {
    const sid = left.participantSid || '';
    const p = this.participants.get(sid);
    if (!p) return;
    for (const tsid of [...p.tracks.keys()]) {
      this._unsubscribed(tsid);
      this._quality.forget(tsid);
    }
    this.participants.delete(sid);
    this.emit('participantLeft', p, enumName('leave', left.reason));
  }

  _onParticipantUpdated(info) {
    const n = normParticipantInfo(info);
    if (this.localParticipant && n.sid === this.localParticipant.sid) {
      this.localParticipant._apply(n);
      this.emit('participantUpdated', this.localParticipant);
      return;
    }
    let p = this.participants.get(n.sid);
    if (!p) return this._onParticipantJoined(info);
    p._apply(n);
    // Tracks listed here are added or refreshed; removals arrive as trackUnpublished.
    for (const t of n.tracks) {
      const pub = p.tracks.get(t.sid);
      if (pub) pub._update(t);
      else p.tracks.set(t.sid, new RemoteTrackPublication(t, this));
    }
    this.emit('participantUpdated', p);
    this._bindWaitingTracks(p.sid);
  }

  _onTrackPublishedEvent(ev) {
    const psid = ev.participantSid || '';
    const info = normTrackInfo(ev.track);
    if (this.localParticipant && psid === this.localParticipant.sid) return;
    let p = this.participants.get(psid);
    if (!p) {
      // A track of someone not announced yet (hidden, or an event ordering race).
      p = new RemoteParticipant({ sid: psid }, this);
      this.participants.set(psid, p);
      this.emit('participantJoined', p);
    }
    let pub = p.tracks.get(info.sid);
    if (pub) pub._update(info);
    else {
      pub = new RemoteTrackPublication(info, this);
      p.tracks.set(info.sid, pub);
    }
    this.emit('trackPublished', pub, p);
    this._bindWaitingTracks(psid);
  }

  _onTrackUnpublished(ev) {
    const p = this.participants.get(ev.participantSid || '');
    const tsid = ev.trackSid || '';
    this._unsubscribed(tsid);
    this._quality.forget(tsid);
    if (!p) return;
    const pub = p.tracks.get(tsid);
    if (!pub) return;
    p.tracks.delete(tsid);
    this.emit('trackUnpublished', pub, p);
  }

  _onTrackMuted(ev) {
    const p = this.participants.get(ev.participantSid || '');
    const pub = p && p.tracks.get(ev.trackSid || '');
    if (!pub) return;
    pub.muted = !!ev.muted;
    pub.info.muted = pub.muted;
    this.emit('trackMuted', pub, p, pub.muted);
  }

  _onSpeakersChanged(ev) {
    this.emit('activeSpeakers', applySpeakers(ev.speakers || [], this.localParticipant, this.participants));
  }

  _onSubscription(resp) {
    this.emit('subscription', {
      trackSid: resp.trackSid || '',
      subscribed: !!resp.subscribed,
      error: resp.error ? this._toError(resp.error) : null,
    });
  }

  _onPong(pong) {
    const sent = Number(pong.timestampMs || 0);
    if (sent) this.rttMs = Date.now() - sent;
  }

  _onLeave(leave) {
    this._leaveReason = enumName('leave', leave.reason);
    if (leave.message) this._leaveReason += `: ${leave.message}`;
    this._teardown(this._leaveReason);
  }

  _toError(e) {
    return new CascadeError(enumName('error', e.code), e.message || '', e.request || '');
  }

  _onError(e) {
    const err = this._toError(e);
    const req = requestKey(err.request);
    if (this.state === 'connecting' && this._joined && (req === '' || req === 'join')) {
      this._joined.reject(err);
      return;
    }
    if (req === 'offer' && this._pendingAnswer) {
      const p = this._pendingAnswer;
      this._pendingAnswer = null;
      p.reject(err);
    } else if (req === 'addtrack' && this._pendingPublish.length) {
      // Requests are handled in order, so a refusal answers the oldest addTrack.
      this._pendingPublish.shift().reject(err);
    }
    this.emit('error', err);
  }

  // ---------------------------------------------------------------- remote tracks

  _onRemoteTrack(ev) {
    const stream = ev.streams[0];
    const [psid, tsid] = stream ? stream.id.split('|') : [];
    if (!psid || !tsid) {
      console.warn('cascade: received a track whose stream id is not "<participantSid>|<trackSid>"', stream && stream.id);
      return;
    }
    const old = this._subscribed.get(tsid);
    if (old && old.track === ev.track) return;
    if (old) this._unsubscribed(tsid);
    const sub = { psid, tsid, track: ev.track, stream, receiver: ev.receiver, announced: false, timer: null };
    this._subscribed.set(tsid, sub);
    stream.addEventListener('removetrack', (e) => {
      const cur = this._subscribed.get(tsid);
      if (cur === sub && e.track === sub.track) this._unsubscribed(tsid);
    });
    if (!this._announce(sub)) {
      sub.timer = setTimeout(() => this._announce(sub, true), TRACK_INFO_GRACE_MS);
    }
  }

  // Emits trackSubscribed for sub once its participant and TrackInfo are known (or, with
  // force, with a placeholder built from the stream id). Returns whether it did.
  _announce(sub, force = false) {
    if (sub.announced || this._subscribed.get(sub.tsid) !== sub) return sub.announced;
    let p = this.participants.get(sub.psid);
    let pub = p && p.tracks.get(sub.tsid);
    if (!pub) {
      if (!force) return false;
      if (!p) {
        p = new RemoteParticipant({ sid: sub.psid }, this);
        this.participants.set(p.sid, p);
        this.emit('participantJoined', p);
      }
      pub = new RemoteTrackPublication(
        { sid: sub.tsid, participantSid: sub.psid, kind: sub.track.kind === 'video' ? TrackKind.VIDEO : TrackKind.AUDIO },
        this,
      );
      p.tracks.set(pub.sid, pub);
    }
    clearTimeout(sub.timer);
    sub.announced = true;
    pub.track = sub.track;
    pub.stream = sub.stream;
    pub.receiver = sub.receiver;
    this._quality.settings.subscribed(sub.tsid, sub.track.kind === 'video');
    this.emit('trackSubscribed', sub.track, pub, p);
    return true;
  }

  _bindWaitingTracks(psid) {
    for (const sub of this._subscribed.values()) if (sub.psid === psid && !sub.announced) this._announce(sub);
  }

  _unsubscribed(tsid) {
    const sub = this._subscribed.get(tsid);
    if (!sub) return;
    this._subscribed.delete(tsid);
    clearTimeout(sub.timer);
    this._quality.unsubscribed(tsid);
    if (!sub.announced) return;
    const p = this.participants.get(sub.psid);
    const pub = p && p.tracks.get(tsid);
    if (pub) {
      pub.track = null;
      pub.stream = null;
      pub.receiver = null;
    }
    this.emit('trackUnsubscribed', sub.track, pub || null, p || null);
  }

  /** Starts (subscribe=true) or stops receiving the given track sids. */
  setSubscribed(trackSids, subscribe) {
    this._send({ subscription: { trackSids: [...trackSids], subscribe: !!subscribe } });
  }

  // ---------------------------------------------------------------- publishing

  // Asks for one publisher offer/answer round. Requests made while one waits in the queue
  // share it; a request made during a round gets a new round after it, so there is never
  // more than one offer outstanding and no change is left unnegotiated.
  _requestNegotiation() {
    if (this._negotiationQueued) return;
    this._negotiationQueued = true;
    this._pubQueue
      .run(async () => {
        this._negotiationQueued = false;
        if (this.state !== 'connected') return;
        await this._negotiate();
      })
      .catch((err) => {
        if (this.state === 'connected') this.emit('error', err);
      });
  }

  async _negotiate() {
    const pc = this._pub.pc;
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const id = ++this._offerId;
    const answered = deferred();
    this._pendingAnswer = { id, resolve: answered.resolve, reject: answered.reject };
    this._send({ offer: { type: 'offer', sdp: pc.localDescription.sdp, id } });
    let answer;
    try {
      answer = await withTimeout(answered.promise, ANSWER_TIMEOUT_MS, `answer to publisher offer ${id}`);
    } finally {
      if (this._pendingAnswer && this._pendingAnswer.id === id) this._pendingAnswer = null;
    }
    await this._pub.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
  }

  /**
   * Publishes a MediaStreamTrack. Resolves with its LocalTrackPublication once the SFU has
   * accepted it (the publication's sid is then set).
   * @param {MediaStreamTrack} track
   * @param {object} [opts]
   * @param {string} [opts.source] a TrackSource (default camera for video, microphone for audio)
   * @param {string} [opts.name]
   * @param {boolean} [opts.simulcast] video only: send q/h/f layers (default true for the camera)
   * @param {RTCRtpEncodingParameters[]} [opts.encodings] overrides the simulcast encodings
   * @param {MediaStream} [opts.stream] the stream named in a=msid (default a new one)
   */
  async publishTrack(track, opts = {}) {
    if (this.state !== 'connected') throw new CascadeError('INVALID_STATE', 'not connected');
    const isVideo = track.kind === 'video';
    const { source, name, encodings, simulcast, req } = describeTrack(track, opts);
    const pub = new LocalTrackPublication(track, source, name);
    pub.simulcast = simulcast;
    const accepted = deferred();
    accepted.promise.catch(() => {}); // awaited below; may be rejected before that
    const stream = opts.stream || new MediaStream([track]);
    await this._pubQueue.run(async () => {
      this._pendingPublish.push({ cid: track.id, resolve: accepted.resolve, reject: accepted.reject });
      this._send({ addTrack: req });
      const init = { direction: 'sendonly', streams: [stream] };
      if (encodings) init.sendEncodings = encodings;
      pub.transceiver = this._pub.pc.addTransceiver(track, init);
      if (isVideo) preferCodec(pub.transceiver, this.options.videoCodec);
    });
    this._requestNegotiation();
    let info;
    try {
      info = await withTimeout(accepted.promise, PUBLISH_TIMEOUT_MS, `publishing ${pub.name}`);
    } catch (err) {
      this._pendingPublish = this._pendingPublish.filter((p) => p.cid !== track.id);
      await this._removeTransceiver(pub);
      throw err;
    }
    pub.sid = info.sid;
    pub.info = info;
    this.localParticipant.tracks.set(pub.sid, pub);
    track.addEventListener('ended', () => {
      if (this.localParticipant && this.localParticipant.tracks.get(pub.sid) === pub) this.unpublishTrack(pub).catch(() => {});
    });
    this.emit('localTrackPublished', pub);
    this._quality.localPublished(pub);
    return pub;
  }

  async _removeTransceiver(pub) {
    await this._pubQueue.run(async () => {
      if (!this._pub || !pub.transceiver) return;
      try {
        this._pub.pc.removeTrack(pub.transceiver.sender);
      } catch {
        // the connection is closed
      }
    });
    if (this.state === 'connected') this._requestNegotiation();
  }

  /** Opens the camera (default 1280x720 at 30 fps) and publishes it with q/h/f simulcast. */
  publishCamera(constraints = {}) {
    return publishCamera(this, constraints);
  }

  /** Opens the microphone (echo cancellation, noise suppression, AGC) and publishes it. */
  publishMicrophone(constraints = {}) {
    return publishMicrophone(this, constraints);
  }

  /**
   * Asks the user for a screen, window or tab and publishes it (single layer), with its audio
   * if captured. Stopping the share from the browser's own UI unpublishes it.
   */
  publishScreenShare(opts = {}) {
    return publishScreenShare(this, opts);
  }

  /** Stops publishing a track: tells the SFU, removes it and renegotiates. */
  async unpublishTrack(pub, { stop = true } = {}) {
    if (!this.localParticipant || this.localParticipant.tracks.get(pub.sid) !== pub) return;
    this.localParticipant.tracks.delete(pub.sid);
    this._send({ unpublish: { trackSid: pub.sid } });
    if (stop) pub.track.stop();
    await this._removeTransceiver(pub);
    this.emit('localTrackUnpublished', pub);
  }

  /**
   * Mutes or unmutes a published track: the track is disabled locally (black video, silent
   * audio, almost no bytes) and the SFU tells everyone.
   */
  setMuted(pub, muted) {
    muted = !!muted;
    pub.track.enabled = !muted;
    if (pub.muted === muted) return;
    pub.muted = muted;
    if (pub.sid) this._send({ mute: { trackSid: pub.sid, muted } });
    this.emit('localTrackMuted', pub, muted);
  }

  // ---------------------------------------------------------------- data

  /**
   * Sends a data message to everyone else in the room (or only destinationIdentities).
   * @param {string|ArrayBuffer|Uint8Array} data
   * @param {object} [opts]
   * @param {boolean} [opts.reliable=true] ordered and retransmitted, or best effort
   * @param {string} [opts.topic]
   * @param {string[]} [opts.destinationIdentities]
   */
  async sendData(data, { reliable = true, topic = '', destinationIdentities = [] } = {}) {
    if (this.state !== 'connected') throw new CascadeError('INVALID_STATE', 'not connected');
    const text = encodeDataPacket(data, { reliable, topic, destinationIdentities });
    const dc = reliable ? this._dcReliable : this._dcLossy;
    await waitChannelOpen(dc, ANSWER_TIMEOUT_MS);
    dc.send(text);
  }

  _onRemoteDataChannel(dc) {
    dc.binaryType = 'arraybuffer';
    dc.onmessage = (ev) => {
      const msg = decodeDataMessage(ev.data, dc, (sid) => this.participants.get(sid) || null);
      if (msg) this.emit('dataReceived', msg);
    };
  }

  // ---------------------------------------------------------------- quality

  /**
   * Sets what this client wants of a received video track (a publication or its sid):
   * {maxRid: '' | 'q' | 'h' | 'f', priority: number, pinned: boolean, disabled: boolean}.
   * Omitted fields keep their value; pinned: true is priority PIN_PRIORITY. Kept while the
   * track exists and sent (with the attached elements' size) whenever it is subscribed.
   * Returns the resulting preferences.
   */
  setTrackPreferences(track, prefs) {
    return this._quality.settings.setPreferences(typeof track === 'string' ? track : track.sid, prefs || {});
  }

  /** The preferences of a received track ({maxRid, priority, disabled}). */
  trackPreferences(trackSid) {
    return this._quality.settings.preferences(trackSid);
  }

  /** The trackSettings last sent for a track, or null. */
  trackSettings(trackSid) {
    return this._quality.settings.sentSettings(trackSid);
  }

  /** What the SFU last said a received track gets: {participantSid, trackSid, state, currentRid, targetRid, reason, updatedAt}, or null. */
  streamState(trackSid) {
    return this._quality.states.get(trackSid);
  }

  /** Map of trackSid to stream state, for every received track the SFU reported on. */
  get streamStates() {
    return this._quality.states.tracks;
  }

  /** The SFU's estimate of this client's downlink, bits per second (0 until reported). */
  get bandwidthEstimate() {
    return this._quality.states.estimateBps;
  }

  // ---------------------------------------------------------------- stats

  /**
   * Collects per-track stats: {remote: [...], local: [{..., layers: [...]}], publisher,
   * subscriber, signalingRttMs, bandwidthEstimate}; remote entries carry the SFU's stream
   * state (streamState, currentRid, targetRid, reason). See web/README.md "Stats".
   */
  async getStats() {
    const est = this.bandwidthEstimate;
    if (this.state !== 'connected') return { remote: [], local: [], publisher: null, subscriber: null, signalingRttMs: this.rttMs, bandwidthEstimate: est };
    const out = await this._stats.collect({
      participants: [...this.participants.values()],
      localTracks: [...this.localParticipant.tracks.values()],
      publisher: this._pub.pc,
      subscriber: this._sub.pc,
    });
    out.signalingRttMs = this.rttMs;
    out.bandwidthEstimate = est;
    for (const r of out.remote) {
      const st = this.streamState(r.trackSid);
      r.streamState = st ? st.state : '';
      r.currentRid = st ? st.currentRid : '';
      r.targetRid = st ? st.targetRid : '';
      r.reason = st ? st.reason : '';
    }
    return out;
  }
}
