package lakebase_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"testing"
)

// wsProxy stands between the driver and the kit's workspace, on a port of
// its own that stays the same while it goes down and up: down, the port is
// closed (connections refused), as for an unreachable workspace. It also
// collects every token the workspace hands out (database credentials, OAuth
// access and refresh tokens), for the redaction sweep.
type wsProxy struct {
	target *url.URL
	addr   string // 127.0.0.1:port
	rp     *httputil.ReverseProxy
	tr     *http.Transport

	mu     sync.Mutex
	srv    *http.Server // nil while down
	tokens map[string]bool
}

// startProxy starts a proxy to the workspace at target; the test's cleanup
// stops it.
func startProxy(t *testing.T, target string) *wsProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &wsProxy{target: u, tr: &http.Transport{}, tokens: make(map[string]bool)}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        func(r *httputil.ProxyRequest) { r.SetURL(u) },
		Transport:      p.tr,
		ModifyResponse: p.inspect,
		ErrorLog:       log.New(io.Discard, "", 0),
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = l.Addr().String()
	p.serve(l)
	t.Cleanup(p.close)
	return p
}

// URL is the workspace URL the driver is given.
func (p *wsProxy) URL() string { return "http://" + p.addr }

// Down closes the port and every connection through it.
func (p *wsProxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv != nil {
		_ = p.srv.Close()
		p.srv = nil
	}
	p.tr.CloseIdleConnections()
}

// Up listens on the same port again.
func (p *wsProxy) Up(t *testing.T) {
	t.Helper()
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.serve(l)
}

func (p *wsProxy) serve(l net.Listener) {
	srv := &http.Server{Handler: p.rp, ErrorLog: log.New(io.Discard, "", 0)}
	p.mu.Lock()
	p.srv = srv
	p.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
}

func (p *wsProxy) close() { p.Down() }

// Tokens returns every token the workspace handed out through the proxy.
func (p *wsProxy) Tokens() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.tokens))
	for tok := range p.tokens {
		out = append(out, tok)
	}
	return out
}

// inspect records the tokens of a workspace answer and rewrites the
// workspace's own address in it (OIDC discovery names absolute URLs) to the
// proxy's, so that every call goes through the proxy.
func (p *wsProxy) inspect(resp *http.Response) error {
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return err
	}
	var fields map[string]any
	if json.Unmarshal(body, &fields) == nil {
		p.mu.Lock()
		for _, key := range []string{"token", "access_token", "refresh_token", "id_token"} {
			if v, ok := fields[key].(string); ok && v != "" {
				p.tokens[v] = true
			}
		}
		p.mu.Unlock()
	}
	body = bytes.ReplaceAll(body, []byte(p.target.String()), []byte(p.URL()))
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}
