// Command loadgen is the one load generator the gateway benchmark uses for
// every target (direct, nginx, Rampart), so their figures are comparable.
//
//	peak: -c connections send back to back for -d; reports requests/s.
//	rate: an open loop sends -rate requests/s for -d regardless of how fast
//	      answers come (latency is measured from each request's scheduled
//	      time, so a stalled server cannot hide its queueing delay).
//
// It prints one JSON object: rps, p50_us, p90_us, p99_us, max_us, sent,
// ok, errors, non2xx.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ",") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

type result struct {
	Mode   string  `json:"mode"`
	RPS    float64 `json:"rps"`
	P50    float64 `json:"p50_us"`
	P90    float64 `json:"p90_us"`
	P99    float64 `json:"p99_us"`
	Max    float64 `json:"max_us"`
	Sent   int64   `json:"sent"`
	OK     int64   `json:"ok"`
	Errors int64   `json:"errors"`
	Non2xx int64   `json:"non2xx"`
	// Gateway-reported overhead (the -overhead header), when asked for.
	OverheadP50 float64 `json:"overhead_p50_us,omitempty"`
	OverheadP99 float64 `json:"overhead_p99_us,omitempty"`
}

func main() {
	url := flag.String("url", "", "target URL")
	bodyFile := flag.String("body", "", "file with the POST body (GET when empty)")
	mode := flag.String("mode", "peak", "peak or rate")
	conns := flag.Int("c", 32, "connections (peak) or most requests in flight (rate)")
	dur := flag.Duration("d", 10*time.Second, "duration")
	warm := flag.Duration("warmup", time.Second, "warm-up not counted")
	rate := flag.Float64("rate", 1000, "requests per second (rate mode)")
	var hdrs headers
	flag.Var(&hdrs, "H", "header 'Name: value' (repeatable)")
	overhead := flag.String("overhead", "", "response header holding the gateway's own time in µs, to report its percentiles")
	flag.Parse()
	if *url == "" {
		fmt.Fprintln(os.Stderr, "loadgen: -url is required")
		os.Exit(2)
	}
	var body []byte
	if *bodyFile != "" {
		b, err := os.ReadFile(*bodyFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(2)
		}
		body = b
	}
	tr := &http.Transport{MaxIdleConnsPerHost: *conns * 2, MaxConnsPerHost: *conns, DisableCompression: true,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	send := func(ctx context.Context) (int, float64, error) {
		method := http.MethodGet
		if body != nil {
			method = http.MethodPost
		}
		req, err := http.NewRequestWithContext(ctx, method, *url, bytes.NewReader(body))
		if err != nil {
			return 0, -1, err
		}
		for _, h := range hdrs {
			k, v, _ := strings.Cut(h, ":")
			req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, -1, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		ov := -1.0
		if *overhead != "" {
			if v, err := strconv.ParseFloat(resp.Header.Get(*overhead), 64); err == nil {
				ov = v
			}
		}
		return resp.StatusCode, ov, nil
	}
	var res result
	switch *mode {
	case "peak":
		res = peak(send, *conns, *warm, *dur)
	case "rate":
		res = fixedRate(send, *conns, *rate, *warm, *dur)
	default:
		fmt.Fprintln(os.Stderr, "loadgen: -mode must be peak or rate")
		os.Exit(2)
	}
	_ = json.NewEncoder(os.Stdout).Encode(res)
}

type sender func(context.Context) (int, float64, error)

type recorder struct {
	mu     sync.Mutex
	lat    []time.Duration
	ov     []float64
	ok     atomic.Int64
	errs   atomic.Int64
	non2xx atomic.Int64
	sent   atomic.Int64
}

func (r *recorder) record(d time.Duration, status int, ov float64, err error) {
	r.sent.Add(1)
	switch {
	case err != nil:
		r.errs.Add(1)
		return
	case status < 200 || status > 299:
		r.non2xx.Add(1)
	default:
		r.ok.Add(1)
	}
	r.mu.Lock()
	r.lat = append(r.lat, d)
	if ov >= 0 {
		r.ov = append(r.ov, ov)
	}
	r.mu.Unlock()
}

func (r *recorder) result(mode string, elapsed time.Duration) result {
	slices.Sort(r.lat)
	q := func(p float64) float64 {
		if len(r.lat) == 0 {
			return 0
		}
		i := int(p * float64(len(r.lat)-1))
		return float64(r.lat[i].Nanoseconds()) / 1e3
	}
	res := result{Mode: mode, RPS: float64(r.ok.Load()) / elapsed.Seconds(), P50: q(0.50), P90: q(0.90), P99: q(0.99), Max: q(1),
		Sent: r.sent.Load(), OK: r.ok.Load(), Errors: r.errs.Load(), Non2xx: r.non2xx.Load()}
	if len(r.ov) > 0 {
		slices.Sort(r.ov)
		res.OverheadP50 = r.ov[int(0.50*float64(len(r.ov)-1))]
		res.OverheadP99 = r.ov[int(0.99*float64(len(r.ov)-1))]
	}
	return res
}

func peak(send sender, conns int, warm, dur time.Duration) result {
	ctx := context.Background()
	var counting atomic.Bool
	stop := make(chan struct{})
	rec := &recorder{}
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				t0 := time.Now()
				st, ov, err := send(ctx)
				if counting.Load() {
					rec.record(time.Since(t0), st, ov, err)
				}
			}
		}()
	}
	time.Sleep(warm)
	counting.Store(true)
	t0 := time.Now()
	time.Sleep(dur)
	counting.Store(false)
	elapsed := time.Since(t0)
	close(stop)
	wg.Wait()
	return rec.result("peak", elapsed)
}

func fixedRate(send sender, inflight int, rate float64, warm, dur time.Duration) result {
	ctx := context.Background()
	rec := &recorder{}
	interval := time.Duration(float64(time.Second) / rate)
	sem := make(chan struct{}, inflight)
	var wg sync.WaitGroup
	start := time.Now()
	countFrom := start.Add(warm)
	end := countFrom.Add(dur)
	for i := 0; ; i++ {
		at := start.Add(time.Duration(i) * interval)
		if at.After(end) {
			break
		}
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(at time.Time) {
			defer wg.Done()
			defer func() { <-sem }()
			st, ov, err := send(ctx)
			if !at.Before(countFrom) {
				rec.record(time.Since(at), st, ov, err)
			}
		}(at)
	}
	wg.Wait()
	return rec.result("rate", dur)
}
