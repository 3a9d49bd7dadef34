// Turns RTCStatsReports into the flat per-track numbers a conferencing UI shows. Rates
// (bitrate, packet loss) come from the difference between two samples of the cumulative
// counters, so the collector keeps the previous sample of every RTP stream it has seen.

// Samples closer together than this reuse the previous rate instead of dividing by noise.
const MIN_INTERVAL_MS = 250;

export class StatsCollector {
  constructor() {
    // key -> {ts, bytes, packets, lost, bitrate, lossPct}
    this._prev = new Map();
  }

  /** Forgets streams whose keys are not in keep (a Set), so the map cannot grow forever. */
  prune(keep) {
    for (const k of this._prev.keys()) if (!keep.has(k)) this._prev.delete(k);
  }

  /** Rates for one RTP stream, from its cumulative byte, packet and loss counters. */
  rates(key, ts, bytes, packets, lost) {
    const prev = this._prev.get(key);
    let bitrate = 0;
    let lossPct = packets + lost > 0 ? (100 * Math.max(lost, 0)) / (packets + Math.max(lost, 0)) : 0;
    if (prev) {
      const dt = ts - prev.ts;
      if (dt < MIN_INTERVAL_MS) return { bitrate: prev.bitrate, lossPct: prev.lossPct };
      bitrate = Math.max(0, ((bytes - prev.bytes) * 8 * 1000) / dt);
      const dPackets = packets - prev.packets;
      const dLost = Math.max(0, lost - prev.lost);
      lossPct = dPackets + dLost > 0 ? (100 * dLost) / (dPackets + dLost) : 0;
    }
    this._prev.set(key, { ts, bytes, packets, lost, bitrate, lossPct });
    return { bitrate, lossPct };
  }

  /**
   * Stats of one received track from its receiver's report. Returns null when the report
   * has no inbound-rtp entry yet (nothing received).
   */
  inbound(report, key) {
    let rtp = null;
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && (!rtp || (s.bytesReceived || 0) > (rtp.bytesReceived || 0))) rtp = s;
    });
    if (!rtp) return null;
    const codec = rtp.codecId ? report.get(rtp.codecId) : null;
    const packetsReceived = rtp.packetsReceived || 0;
    const packetsLost = rtp.packetsLost || 0;
    const { bitrate, lossPct } = this.rates(key, rtp.timestamp, rtp.bytesReceived || 0, packetsReceived, packetsLost);
    const out = {
      kind: rtp.kind,
      codec: codec ? codec.mimeType : '',
      bytesReceived: rtp.bytesReceived || 0,
      packetsReceived,
      packetsLost,
      packetLossPct: lossPct,
      bitrate,
      jitterMs: (rtp.jitter || 0) * 1000,
      nackCount: rtp.nackCount || 0,
    };
    if (rtp.kind === 'video') {
      Object.assign(out, {
        width: rtp.frameWidth || 0,
        height: rtp.frameHeight || 0,
        fps: rtp.framesPerSecond || 0,
        framesDecoded: rtp.framesDecoded || 0,
        framesReceived: rtp.framesReceived || 0,
        framesDropped: rtp.framesDropped || 0,
        keyFramesDecoded: rtp.keyFramesDecoded || 0,
        pliCount: rtp.pliCount || 0,
        freezeCount: rtp.freezeCount || 0,
      });
    } else {
      Object.assign(out, {
        totalSamplesReceived: rtp.totalSamplesReceived || 0,
        concealedSamples: rtp.concealedSamples || 0,
        audioLevel: rtp.audioLevel || 0,
        totalAudioEnergy: rtp.totalAudioEnergy || 0,
      });
    }
    return out;
  }

  /** Stats of one sent track, one entry per simulcast layer (rid), lowest first. */
  outbound(report, keyPrefix) {
    const layers = [];
    report.forEach((s) => {
      if (s.type !== 'outbound-rtp') return;
      const codec = s.codecId ? report.get(s.codecId) : null;
      const key = `${keyPrefix}/${s.rid || s.ssrc}`;
      const { bitrate } = this.rates(key, s.timestamp, s.bytesSent || 0, s.packetsSent || 0, 0);
      const layer = {
        rid: s.rid || '',
        kind: s.kind,
        codec: codec ? codec.mimeType : '',
        active: s.active !== false,
        bytesSent: s.bytesSent || 0,
        packetsSent: s.packetsSent || 0,
        retransmittedPacketsSent: s.retransmittedPacketsSent || 0,
        bitrate,
        targetBitrate: s.targetBitrate || 0,
      };
      if (s.kind === 'video') {
        Object.assign(layer, {
          width: s.frameWidth || 0,
          height: s.frameHeight || 0,
          fps: s.framesPerSecond || 0,
          framesEncoded: s.framesEncoded || 0,
          keyFramesEncoded: s.keyFramesEncoded || 0,
          qualityLimitationReason: s.qualityLimitationReason || 'none',
          nackCount: s.nackCount || 0,
          pliCount: s.pliCount || 0,
        });
      }
      layers.push(layer);
    });
    const order = { q: 0, h: 1, f: 2 };
    layers.sort((a, b) => (order[a.rid] ?? 9) - (order[b.rid] ?? 9));
    return layers;
  }

  /**
   * Collects the stats of every subscribed remote track and every published local track
   * (see Room.getStats for the shape).
   */
  async collect({ participants, localTracks, publisher, subscriber }) {
    const out = { remote: [], local: [], publisher: null, subscriber: null };
    const keep = new Set();
    const remote = [];
    for (const p of participants) {
      for (const pub of p.tracks.values()) if (pub.receiver) remote.push([p, pub]);
    }
    await Promise.all(
      remote.map(async ([p, pub]) => {
        const key = `in/${pub.sid}`;
        keep.add(key);
        // A receiver torn down by a renegotiation mid-call reports nothing rather than failing.
        const report = await pub.receiver.getStats().catch(() => new Map());
        const s = this.inbound(report, key);
        out.remote.push({
          participantSid: p.sid,
          identity: p.identity,
          name: p.name,
          trackSid: pub.sid,
          kind: pub.track ? pub.track.kind : pub.isVideo ? 'video' : 'audio',
          source: pub.source,
          muted: pub.muted,
          ...(s || { bytesReceived: 0, packetsReceived: 0, packetsLost: 0, packetLossPct: 0, bitrate: 0 }),
        });
      }),
    );
    const local = localTracks.filter((pub) => pub.sender);
    await Promise.all(
      local.map(async (pub) => {
        const report = await pub.sender.getStats().catch(() => new Map());
        const layers = this.outbound(report, `out/${pub.sid}`);
        out.local.push({ trackSid: pub.sid, kind: pub.track.kind, source: pub.source, muted: pub.muted, layers });
      }),
    );
    out.publisher = StatsCollector.transport(await publisher.getStats().catch(() => new Map()));
    out.subscriber = StatsCollector.transport(await subscriber.getStats().catch(() => new Map()));
    // Layer keys end in a rid or an ssrc; keep every key of a track still published.
    for (const k of this._prev.keys()) if (local.some((pub) => k.startsWith(`out/${pub.sid}/`))) keep.add(k);
    this.prune(keep);
    out.remote.sort((a, b) => (a.participantSid + a.trackSid).localeCompare(b.participantSid + b.trackSid));
    out.local.sort((a, b) => a.trackSid.localeCompare(b.trackSid));
    return out;
  }

  /** Round trip time and bytes of the connection's selected candidate pair. */
  static transport(report) {
    let pair = null;
    report.forEach((s) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) pair = report.get(s.selectedCandidatePairId) || pair;
    });
    if (!pair) {
      report.forEach((s) => {
        if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s;
      });
    }
    if (!pair) return null;
    return {
      rttMs: (pair.currentRoundTripTime || 0) * 1000,
      availableOutgoingBitrate: pair.availableOutgoingBitrate || 0,
      availableIncomingBitrate: pair.availableIncomingBitrate || 0,
      bytesSent: pair.bytesSent || 0,
      bytesReceived: pair.bytesReceived || 0,
    };
  }
}
