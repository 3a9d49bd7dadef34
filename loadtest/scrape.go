package loadtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// nodeSample is what one scrape of the node's /metrics said.
type nodeSample struct {
	At             time.Time
	CPUSeconds     float64 // process_cpu_seconds_total
	RSSBytes       float64 // process_resident_memory_bytes
	Forwarded      float64 // cascade_forwarded_packets_total
	ForwardedBytes float64 // cascade_forwarded_bytes_total
	Received       float64 // cascade_received_packets_total
	Retransmitted  float64 // cascade_retransmitted_packets_total
	DownTracks     float64 // cascade_down_tracks
	HasCPU         bool
	HasForwarded   bool
}

// scraper reads the node's Prometheus text exposition.
type scraper struct {
	url    string
	client *http.Client
}

func newScraper(url string) *scraper {
	return &scraper{url: url, client: &http.Client{Timeout: 3 * time.Second}}
}

func (s *scraper) scrape(ctx context.Context) (nodeSample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nodeSample{}, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nodeSample{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return nodeSample{}, fmt.Errorf("%s: HTTP %s", s.url, resp.Status)
	}
	smp, err := parseMetrics(io.LimitReader(resp.Body, 16<<20))
	smp.At = time.Now()
	return smp, err
}

// parseMetrics reads the values the load tester uses from the Prometheus text format
// (https://prometheus.io/docs/instrumenting/exposition_formats/). Metrics with labels are
// summed over their label sets.
func parseMetrics(r io.Reader) (nodeSample, error) {
	var s nodeSample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, ok := cutName(line)
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		switch name {
		case "process_cpu_seconds_total":
			s.CPUSeconds += v
			s.HasCPU = true
		case "process_resident_memory_bytes":
			s.RSSBytes += v
		case "cascade_forwarded_packets_total":
			s.Forwarded += v
			s.HasForwarded = true
		case "cascade_forwarded_bytes_total":
			s.ForwardedBytes += v
		case "cascade_received_packets_total":
			s.Received += v
		case "cascade_retransmitted_packets_total":
			s.Retransmitted += v
		case "cascade_down_tracks":
			s.DownTracks += v
		}
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	if !s.HasCPU && !s.HasForwarded {
		return s, fmt.Errorf("no process or cascade metrics in the response")
	}
	return s, nil
}

// cutName splits "name{labels} value" or "name value" into the name and what follows the
// labels.
func cutName(line string) (name, rest string, ok bool) {
	if i := strings.IndexByte(line, '{'); i >= 0 {
		j := strings.LastIndexByte(line, '}')
		if j < i {
			return "", "", false
		}
		return line[:i], line[j+1:], true
	}
	name, rest, ok = strings.Cut(line, " ")
	return name, rest, ok
}
