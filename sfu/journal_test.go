package sfu

import (
	"errors"
	"testing"
	"time"
)

// The event hub on its own: numbering, the replay window, cursors, retention and slow
// watchers, without rooms or a network.

func appendMeta(h *eventHub, room, sid string, n int) {
	for range n {
		h.append(room, sid, RoomUpdatedEvent{})
	}
}

func seqs(evs []RoomEvent) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Seq
	}
	return out
}

func TestJournalNumbersAndReplays(t *testing.T) {
	h := newEventHub(4, 16, time.Minute)
	h.append("a", "RM_1", RoomCreatedEvent{})
	appendMeta(h, "a", "RM_1", 5) // seqs 2..6; the window keeps 3..6
	h.append("b", "RM_2", RoomCreatedEvent{})

	tests := []struct {
		name    string
		cursor  Cursor
		want    []uint64
		wantErr error
	}{
		{"resume mid-window", Cursor{Room: "a", AfterSeq: 4}, []uint64{5, 6}, nil},
		{"resume at the oldest kept", Cursor{Room: "a", AfterSeq: 2}, []uint64{3, 4, 5, 6}, nil},
		{"resume at the newest", Cursor{Room: "a", AfterSeq: 6}, []uint64{}, nil},
		{"resume with the right sid", Cursor{Room: "a", RoomSID: "RM_1", AfterSeq: 5}, []uint64{6}, nil},
		{"past the window", Cursor{Room: "a", AfterSeq: 1}, nil, ErrReplayUnavailable},
		{"everything, but the start is gone", Cursor{Room: "a"}, nil, ErrReplayUnavailable},
		{"everything of a young room", Cursor{Room: "b"}, []uint64{1}, nil},
		{"ahead of the room", Cursor{Room: "a", AfterSeq: 7}, nil, ErrReplayUnavailable},
		{"another room's sid", Cursor{Room: "a", RoomSID: "RM_2", AfterSeq: 5}, nil, ErrReplayUnavailable},
		{"unknown room", Cursor{Room: "zzz", AfterSeq: 1}, nil, ErrReplayUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, replay, err := h.watch("", false, []Cursor{tc.cursor})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if got := seqs(replay); len(got) != len(tc.want) || len(got) > 0 && (got[0] != tc.want[0] || got[len(got)-1] != tc.want[len(tc.want)-1]) {
				t.Fatalf("replayed %v, want %v", got, tc.want)
			}
		})
	}
	if n := h.watcherCount(); n != 0 {
		t.Fatalf("%d watchers left after Close", n)
	}
}

func TestJournalLiveEventsFollowReplayWithoutGapOrOverlap(t *testing.T) {
	h := newEventHub(64, 64, time.Minute)
	h.append("a", "RM_1", RoomCreatedEvent{})
	appendMeta(h, "a", "RM_1", 3)
	w, replay, err := h.watch("a", true, []Cursor{{Room: "a", AfterSeq: 2}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	appendMeta(h, "a", "RM_1", 3)
	h.append("other", "RM_9", RoomCreatedEvent{}) // not watched
	got := seqs(replay)
	for range 3 {
		got = append(got, (<-w.Events()).Seq)
	}
	want := []uint64{3, 4, 5, 6, 7}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	select {
	case ev := <-w.Events():
		t.Fatalf("unexpected event %+v", ev)
	default:
	}
}

func TestJournalContinuesAcrossRecreationAndExpires(t *testing.T) {
	h := newEventHub(64, 64, time.Minute)
	now := time.Unix(1000, 0)
	h.now = func() time.Time { return now }
	h.append("a", "RM_1", RoomCreatedEvent{})
	h.append("a", "RM_1", RoomFinishedEvent{})
	h.append("a", "RM_2", RoomCreatedEvent{})
	w, replay, err := h.watch("a", true, []Cursor{{Room: "a", RoomSID: "RM_1", AfterSeq: 1}})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if len(replay) != 2 || replay[1].RoomSID != "RM_2" || replay[1].Seq != 3 {
		t.Fatalf("replay %+v: want the finish of RM_1 and the creation of RM_2 as seqs 2 and 3", replay)
	}
	h.append("a", "RM_2", RoomFinishedEvent{})
	now = now.Add(2 * time.Minute)
	if _, _, err := h.watch("a", false, nil); !errors.Is(err, ErrRoomNotFound) {
		t.Fatalf("watch of a room finished past the retention: %v, want ErrRoomNotFound", err)
	}
}

func TestSlowWatcherIsDroppedNotWaitedFor(t *testing.T) {
	h := newEventHub(1024, 8, time.Minute)
	slow, _, err := h.watch("", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	appendMeta(h, "a", "RM_1", 100) // nobody reads: the buffer fills after 8
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("appending took %v", d)
	}
	select {
	case <-slow.Done():
	default:
		t.Fatal("the slow watcher was not dropped")
	}
	if !errors.Is(slow.Err(), ErrWatcherTooSlow) {
		t.Fatalf("slow watcher's error: %v", slow.Err())
	}
	// What was buffered stays readable, in order, so the watcher can resume after it.
	var got []uint64
	for len(slow.Events()) > 0 {
		got = append(got, (<-slow.Events()).Seq)
	}
	if len(got) != 8 || got[0] != 1 || got[7] != 8 {
		t.Fatalf("buffered %v, want 1..8", got)
	}
	if h.watcherCount() != 0 {
		t.Fatalf("%d watchers registered after the drop", h.watcherCount())
	}
	// It resumes from the journal.
	w, replay, err := h.watch("", false, []Cursor{{Room: "a", AfterSeq: 8}})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if len(replay) != 92 || replay[0].Seq != 9 {
		t.Fatalf("resume replayed %d events from %v", len(replay), seqs(replay[:1]))
	}
}

func TestWatchOfUnknownRoom(t *testing.T) {
	h := newEventHub(16, 16, time.Minute)
	if _, _, err := h.watch("nope", false, nil); !errors.Is(err, ErrRoomNotFound) {
		t.Fatalf("err = %v, want ErrRoomNotFound", err)
	}
	// A room that exists but has not recorded its creation yet can be watched.
	w, _, err := h.watch("young", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	h.close()
	if _, _, err := h.watch("", false, nil); !errors.Is(err, ErrSFUClosed) {
		t.Fatalf("watch after close: %v", err)
	}
}
