// Unit tests of the client's quality handling (trackSettings, streamState, dynacast) under
// node with fake browser objects. Run by web/web_test.go (TestJavaScript) when node is
// installed; the static modules are copied next to this file first.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  installBrowserFakes,
  sleep,
  fakeElement,
  fakeDocument,
  FakeWebSocket,
  FakeTrack,
  FakeMediaStream,
  FakeResizeObserver,
  FakeIntersectionObserver,
  FakeSender,
} from './fakes.mjs';

installBrowserFakes();
const { TrackSettingsController, StreamStates, applySubscribedLayers, normPreferences, PIN_PRIORITY } = await import('./cascade-quality.js');
const { Room, StreamState } = await import('./cascade.js');

function controller(opts = {}) {
  const sent = [];
  const ctl = new TrackSettingsController({ send: (m) => (sent.push(m.trackSettings), true), debounceMs: 15, ...opts });
  return { ctl, sent };
}

test('trackSettings follow size, visibility and preferences, debounced and deduplicated', async () => {
  const { ctl, sent } = controller();
  const el = fakeElement('video', 640, 360);
  ctl.attach('TR_1', el);
  await sleep(40);
  assert.equal(sent.length, 0, 'nothing is sent for a track that is not subscribed');

  ctl.subscribed('TR_1', true);
  await sleep(40);
  assert.deepEqual(sent, [{ trackSids: ['TR_1'], disabled: false, width: 640, height: 360 }]);

  // A burst of resizes settles into one message with the last size.
  FakeResizeObserver.resize(el, 300, 170);
  FakeResizeObserver.resize(el, 320, 180);
  await sleep(40);
  assert.equal(sent.length, 2);
  assert.deepEqual(sent[1], { trackSids: ['TR_1'], disabled: false, width: 320, height: 180 });

  FakeResizeObserver.resize(el, 320, 180);
  await sleep(40);
  assert.equal(sent.length, 2, 'an unchanged size is not sent again');

  FakeIntersectionObserver.intersect(el, false);
  await sleep(40);
  assert.deepEqual(sent[2], { trackSids: ['TR_1'], disabled: true });
  FakeIntersectionObserver.intersect(el, true);
  await sleep(40);
  assert.deepEqual(sent[3], { trackSids: ['TR_1'], disabled: false, width: 320, height: 180 });

  // Preferences go out at once.
  ctl.setPreferences('TR_1', { pinned: true, maxRid: 'h' });
  await sleep(2);
  assert.deepEqual(sent[4], { trackSids: ['TR_1'], disabled: false, width: 320, height: 180, maxRid: 'h', priority: PIN_PRIORITY });

  fakeDocument.setVisibility('hidden');
  await sleep(40);
  assert.equal(sent[5].disabled, true, 'a hidden page pauses attached video');
  fakeDocument.setVisibility('visible');
  await sleep(40);
  assert.equal(sent[6].disabled, false);

  // Two elements: the larger visible one counts; detaching all pauses.
  const big = fakeElement('video', 1280, 720);
  ctl.attach('TR_1', big);
  await sleep(40);
  assert.equal(sent[7].width, 1280);
  ctl.detach('TR_1');
  await sleep(40);
  assert.deepEqual(sent[8], { trackSids: ['TR_1'], disabled: true, maxRid: 'h', priority: PIN_PRIORITY });
  assert.deepEqual(ctl.elements('TR_1'), []);

  // Resubscribing keeps preferences and resends them.
  ctl.unsubscribed('TR_1');
  ctl.subscribed('TR_1', true);
  await sleep(5);
  assert.deepEqual(sent[9], { trackSids: ['TR_1'], disabled: false, maxRid: 'h', priority: PIN_PRIORITY });
  assert.equal(sent.length, 10);
  ctl.close();
});

test('audio tracks and defaults send nothing; pixel density scales sizes', async () => {
  const { ctl, sent } = controller({ pixelDensity: 2 });
  ctl.subscribed('TR_a', false);
  ctl.attach('TR_a', fakeElement('audio'));
  ctl.subscribed('TR_v', true);
  await sleep(40);
  assert.deepEqual(sent, [], 'audio and a fresh video subscription need no settings');
  ctl.attach('TR_v', fakeElement('video', 160, 90));
  await sleep(40);
  assert.deepEqual(sent, [{ trackSids: ['TR_v'], disabled: false, width: 320, height: 180 }]);
  // An element not in the document does not count as visible.
  const off = fakeElement('video', 640, 360);
  off.isConnected = false;
  ctl.detach('TR_v');
  ctl.attach('TR_v', off);
  await sleep(40);
  assert.equal(sent.at(-1).disabled, true);
  ctl.close();
});

test('preferences are validated', () => {
  assert.throws(() => normPreferences({ maxRid: 'x' }), RangeError);
  assert.throws(() => normPreferences({ priority: 'lots' }), RangeError);
  assert.deepEqual(normPreferences({ maxRid: 'q', priority: 3.7 }), { maxRid: 'q', priority: 3, disabled: false });
  assert.deepEqual(normPreferences({ pinned: false }, { maxRid: 'h', priority: 10, disabled: true }), { maxRid: 'h', priority: 0, disabled: true });
});

test('stream states merge and report only changes', () => {
  const s = new StreamStates();
  let r = s.apply({ estimateBps: '800000', streams: [{ participantSid: 'PA', trackSid: 'TR', currentRid: 'q', targetRid: 'h', reason: 'bandwidth' }] });
  assert.equal(r.changed.length, 1);
  assert.equal(r.changed[0].state, 'STREAM_STATE_ACTIVE');
  assert.equal(r.estimateChanged, true);
  assert.equal(s.estimateBps, 800000);
  r = s.apply({ estimateBps: '800000', streams: [{ participantSid: 'PA', trackSid: 'TR', currentRid: 'q', targetRid: 'h', reason: 'bandwidth' }] });
  assert.deepEqual(r, { changed: [], estimateChanged: false });
  r = s.apply({ streams: [{ participantSid: 'PA', trackSid: 'TR', state: 1 }, { trackSid: 'TR2', state: 'STREAM_STATE_PAUSED_PREFERENCE' }] });
  assert.equal(r.changed.length, 2);
  assert.equal(s.get('TR').state, 'STREAM_STATE_PAUSED_BANDWIDTH');
  assert.equal(s.get('TR').currentRid, '');
  assert.equal(s.get('TR2').state, 'STREAM_STATE_PAUSED_PREFERENCE');
  assert.equal(s.estimateBps, 0);
});

test('subscribed layers set encodings active by rid', async () => {
  const sender = new FakeSender([{ rid: 'q' }, { rid: 'h' }, { rid: 'f' }]);
  assert.equal(await applySubscribedLayers(sender, [{ rid: 'q', active: true }, { rid: 'h', active: true }, { rid: 'f', active: false }]), true);
  assert.deepEqual(sender.active(), { q: true, h: true, f: false });
  assert.equal(await applySubscribedLayers(sender, [{ rid: 'f', active: false }]), false, 'no change, no setParameters');
  assert.equal(sender.calls, 1);
  assert.equal(await applySubscribedLayers(sender, [{ rid: 'f', active: true }]), true);
  assert.deepEqual(sender.active(), { q: true, h: true, f: true });
  const single = new FakeSender([{}]);
  await applySubscribedLayers(single, [{ rid: '', active: false }]);
  assert.deepEqual(single.active(), { '': false });
});

// A Room against a scripted server: join, a remote video track, trackSettings from an
// attached element, streamState events, and dynacast on a published simulcast track.
test('room: trackSettings, streamStateChanged and dynacast', async () => {
  const room = new Room({ settingsDebounceMs: 10 });
  const events = [];
  for (const ev of ['trackSubscribed', 'streamStateChanged', 'bandwidthEstimateChanged', 'subscribedLayersChanged', 'error']) {
    room.on(ev, (...args) => events.push([ev, ...args]));
  }
  const connected = room.connect('ws://sfu.test/v1/signal', 'token');
  const ws = FakeWebSocket.last;
  ws.onServerFrame = (msg) => {
    if (msg.join) {
      ws.deliver({
        join: {
          room: { sid: 'RM_1', name: 'r' },
          participant: { sid: 'PA_me', identity: 'me' },
          others: [{ sid: 'PA_a', identity: 'alice', tracks: [{ sid: 'TR_v', kind: 'TRACK_KIND_VIDEO', source: 'TRACK_SOURCE_CAMERA', simulcast: true }] }],
          pingIntervalMs: 60000,
        },
      });
    } else if (msg.offer) {
      ws.deliver({ answer: { type: 'answer', sdp: 'v=0', id: msg.offer.id } });
    } else if (msg.addTrack) {
      // trackPublished and the first subscribedLayers back to back.
      ws.deliver({ trackPublished: { cid: msg.addTrack.cid, track: { sid: 'TR_mine', kind: 'TRACK_KIND_VIDEO', simulcast: true } } });
      ws.deliver({ subscribedLayers: { trackSid: 'TR_mine', layers: [{ rid: 'q', active: true }, { rid: 'h', active: true }, { rid: 'f' }] } });
    }
  };
  await connected;

  // The SFU forwards alice's camera.
  const track = new FakeTrack('video');
  room._sub.pc.ontrack({ track, streams: [new FakeMediaStream([track], 'PA_a|TR_v')], receiver: {} });
  const sub = events.find((e) => e[0] === 'trackSubscribed');
  assert.ok(sub, 'trackSubscribed');
  const pub = sub[2];
  assert.equal(pub.sid, 'TR_v');

  const el = fakeElement('video', 480, 270);
  assert.equal(pub.attach(el), el);
  assert.equal(el.srcObject.getTracks()[0], track);
  assert.deepEqual(pub.attachedElements, [el]);
  await sleep(30);
  assert.deepEqual(ws.sentOf('trackSettings'), [{ trackSids: ['TR_v'], disabled: false, width: 480, height: 270 }]);
  assert.deepEqual(room.trackSettings('TR_v'), { trackSids: ['TR_v'], disabled: false, width: 480, height: 270 });

  pub.setPinned(true);
  await sleep(5);
  assert.equal(ws.sentOf('trackSettings').at(-1).priority, 10);
  assert.equal(pub.pinned, true);

  // Stream state.
  ws.deliver({ streamState: { estimateBps: '1200000', streams: [{ participantSid: 'PA_a', trackSid: 'TR_v', currentRid: 'q', targetRid: 'h', reason: 'bandwidth' }] } });
  await sleep(1);
  const sc = events.filter((e) => e[0] === 'streamStateChanged');
  assert.equal(sc.length, 1);
  assert.equal(sc[0][1].state, StreamState.ACTIVE);
  assert.equal(sc[0][1].targetRid, 'h');
  assert.equal(sc[0][2], pub);
  assert.equal(sc[0][3].identity, 'alice');
  assert.equal(room.bandwidthEstimate, 1200000);
  assert.deepEqual(events.filter((e) => e[0] === 'bandwidthEstimateChanged').map((e) => e[1]), [1200000]);
  assert.equal(pub.streamState.currentRid, 'q');
  ws.deliver({ streamState: { estimateBps: '1200000', streams: [{ participantSid: 'PA_a', trackSid: 'TR_v', currentRid: 'q', targetRid: 'h', reason: 'bandwidth' }] } });
  ws.deliver({ streamState: { estimateBps: '90000', streams: [{ participantSid: 'PA_a', trackSid: 'TR_v', state: 'STREAM_STATE_PAUSED_BANDWIDTH', reason: 'bandwidth' }] } });
  await sleep(1);
  assert.equal(events.filter((e) => e[0] === 'streamStateChanged').length, 2, 'a repeated state is no event');
  assert.equal(room.streamState('TR_v').state, StreamState.PAUSED_BANDWIDTH);
  assert.equal(room.streamStates.size, 1);

  // Dynacast: layers that arrive right behind trackPublished apply once the publication
  // exists.
  const mine = await room.publishTrack(new FakeTrack('video', { width: 1280, height: 720 }), { simulcast: true });
  assert.equal(mine.sid, 'TR_mine');
  const addTrack = ws.sentOf('addTrack')[0];
  assert.deepEqual(addTrack.layers.map((l) => [l.rid, l.width, l.height]), [['q', 320, 180], ['h', 640, 360], ['f', 1280, 720]]);
  await sleep(30);
  const sender = mine.sender;
  assert.deepEqual(sender.active(), { q: true, h: true, f: false });
  assert.deepEqual(mine.subscribedLayers, [{ rid: 'q', active: true }, { rid: 'h', active: true }, { rid: 'f', active: false }]);
  assert.equal(events.filter((e) => e[0] === 'subscribedLayersChanged').length, 1);

  // A burst is applied one setParameters at a time and ends at the last update.
  const layers = (h, f) => ({ subscribedLayers: { trackSid: 'TR_mine', layers: [{ rid: 'q', active: true }, { rid: 'h', active: h }, { rid: 'f', active: f }] } });
  ws.deliver(layers(false, false));
  ws.deliver(layers(true, true));
  ws.deliver(layers(false, true));
  await sleep(60);
  assert.deepEqual(sender.active(), { q: true, h: false, f: true });
  assert.equal(sender.maxInFlight, 1, 'setParameters calls overlapped');
  assert.equal(sender.calls <= 4, true, `${sender.calls} setParameters calls`);

  // Unsubscribing drops the stream state and the attached elements.
  room._unsubscribed('TR_v');
  assert.equal(room.streamState('TR_v'), null);
  assert.deepEqual(room._quality.elements('TR_v'), []);
  assert.deepEqual(events.filter((e) => e[0] === 'error'), []);
  await room.disconnect();
});
