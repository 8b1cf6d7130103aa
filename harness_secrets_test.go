package lakebase_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

// logCapture keeps every line of a slog logger at the most verbose level,
// debug lines included.
type logCapture struct {
	logger *slog.Logger
	mu     sync.Mutex
	buf    bytes.Buffer
	lines  int
}

// newLogCapture returns a logger that records everything.
func newLogCapture() *logCapture {
	l := &logCapture{}
	l.logger = slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.Level(-8)}))
	return l
}

func (l *logCapture) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines += bytes.Count(p, []byte("\n"))
	return l.buf.Write(p)
}

func (l *logCapture) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Lines is how many lines were logged.
func (l *logCapture) Lines() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lines
}

// secrets collects the secrets a test has seen, to check that none of them
// reaches an error or a log line.
type secrets struct {
	mu     sync.Mutex
	values []string
}

// kitSecrets returns the secrets of kit's default identities and values.
func kitSecrets(kit *lakebasetest.Kit, values ...string) *secrets {
	s := &secrets{}
	s.add(kit.ServicePrincipal.Secret, kit.User.Token, kit.User.RefreshToken, kit.NativePassword)
	s.add(values...)
	return s
}

// add records values; empty ones are ignored.
func (s *secrets) add(values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range values {
		if v != "" {
			s.values = append(s.values, v)
		}
	}
}

// addCredential records the credential conn would hand out now, if it can
// get one, and returns s.
func (s *secrets) addCredential(t testing.TB, conn *lakebase.Connector) *secrets {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if tok, err := conn.Credential(ctx); err == nil {
		s.add(tok.Value)
	}
	return s
}

// check fails the test if a secret appears in the log (nil: none) or in
// any of errs, printed every way an error is printed.
func (s *secrets) check(t testing.TB, log *logCapture, errs ...error) {
	t.Helper()
	var texts []string
	if log != nil {
		texts = append(texts, log.String())
	}
	for _, err := range errs {
		if err != nil {
			texts = append(texts, err.Error(), fmt.Sprintf("%v %+v %#v %q", err, err, err, err))
		}
	}
	s.checkText(t, strings.Join(texts, "\n"))
}

// checkText fails the test if a secret appears in text. The report shows
// the line that holds it, with the secret blanked out.
func (s *secrets) checkText(t testing.TB, text string) {
	t.Helper()
	s.mu.Lock()
	values := s.values
	s.mu.Unlock()
	for _, leak := range findLeaks(text, values) {
		t.Errorf("a secret appears in an error or log line:\n%s", leak)
	}
}

// findLeaks returns, for each secret found in text, the line that holds it
// with the secret blanked out. A JWT-shaped secret's random last part is
// looked for too, so that a partial leak is caught; parts shorter than eight
// characters are not.
func findLeaks(text string, secrets []string) []string {
	var leaks []string
	for _, s := range secrets {
		parts := []string{s}
		if dots := strings.Split(s, "."); len(dots) == 3 {
			parts = append(parts, dots[2])
		}
		for _, p := range parts {
			if len(p) >= 8 && strings.Contains(text, p) {
				leaks = append(leaks, strings.ReplaceAll(lineWith(text, p), p, "[THE SECRET]"))
				break
			}
		}
	}
	return leaks
}

// The sweep reports each secret it finds, whole or by a JWT's last part,
// on its line with the secret blanked out, and passes over secrets too
// short to tell apart.
func TestFaultRedactionSweepFindsLeaks(t *testing.T) {
	jwt := "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXBhcnQtb2YtaXQ"
	text := "level=INFO msg=ok\nlevel=WARN msg=\"login with hunter2-secret failed\"\nerr: token ends c2lnbmF0dXJlLXBhcnQtb2YtaXQ\n"
	leaks := findLeaks(text, []string{"hunter2-secret", jwt, "absent-secret", "short"})
	if len(leaks) != 2 {
		t.Fatalf("findLeaks found %d leaks, want 2: %q", len(leaks), leaks)
	}
	for _, leak := range leaks {
		if strings.Contains(leak, "hunter2") || strings.Contains(leak, "c2lnbmF0") || !strings.Contains(leak, "[THE SECRET]") {
			t.Errorf("leak report %q should blank the secret out", leak)
		}
	}
}

// lineWith returns the line of text that holds s.
func lineWith(text, s string) string {
	i := strings.Index(text, s)
	start := strings.LastIndexByte(text[:i], '\n') + 1
	end := strings.IndexByte(text[i:], '\n')
	if end < 0 {
		return text[start:]
	}
	return text[start : i+end]
}
