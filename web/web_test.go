package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandlerServesFiles(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()

	cases := []struct {
		path, contentType, contains string
	}{
		{"/", "text/html", `<script type="module" src="demo.js">`},
		{"/?room=r&name=n", "text/html", "Join a room"},
		{"/cascade.js", "text/javascript", "export class Room"},
		{"/cascade-util.js", "text/javascript", "export class Emitter"},
		{"/cascade-models.js", "text/javascript", "export class RemoteParticipant"},
		{"/cascade-stats.js", "text/javascript", "export class StatsCollector"},
		{"/cascade-quality.js", "text/javascript", "export class TrackSettingsController"},
		{"/cascade-media.js", "text/javascript", "export const DEFAULT_SIMULCAST"},
		{"/cascade-data.js", "text/javascript", "export function encodeDataPacket"},
		{"/demo.js", "text/javascript", "window.cascadeDemo"},
		{"/demo.css", "text/css", ".tile"},
	}
	for _, c := range cases {
		resp, err := http.Get(srv.URL + c.path)
		if err != nil {
			t.Fatalf("GET %s: %v", c.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d", c.path, resp.StatusCode)
			continue
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, c.contentType) {
			t.Errorf("GET %s: Content-Type %q, want %s", c.path, ct, c.contentType)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", c.path, cc)
		}
		if !strings.Contains(string(body), c.contains) {
			t.Errorf("GET %s: body lacks %q", c.path, c.contains)
		}
	}
}

func TestHandlerRejectsOtherMethods(t *testing.T) {
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("x")))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST /: status %d, want 405", rec.Code)
	}
}

func TestHandlerMissingFile(t *testing.T) {
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/nope.js", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("GET /nope.js: status %d, want 404", rec.Code)
	}
}
