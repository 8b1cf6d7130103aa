package pqsession

import (
	"bytes"
	"encoding/binary"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
)

// EndedError is the cause of a session's network error when the server
// ended the session and said why: the ErrorResponse of severity FATAL (or
// PANIC) that PostgreSQL sends before it closes the connection (57P01
// admin_shutdown for a restart or pg_terminate_backend, 57P02
// crash_shutdown, 57P03 cannot_connect_now, 25P03
// idle_in_transaction_session_timeout, 57P05 idle_session_timeout).
// errors.As finds it, and the server's *pq.Error in it, through the
// *net.OpError of the read or write that met the end.
type EndedError struct {
	// Server is the server's reason, as lib/pq would have parsed it.
	Server *pq.Error
	// Sent reports whether the request that met the end had been sent:
	// then the server may have run it. A request that was not sent was
	// never run.
	Sent bool
}

// Error says that the server ended the session, why, and whether the
// request was sent.
func (e *EndedError) Error() string {
	sent := "the request was sent, its outcome is unknown"
	if !e.Sent {
		sent = "nothing was sent"
	}
	return "the server ended the session: " + e.Server.Error() + "; " + sent
}

// Unwrap gives errors.Is and errors.As the server's *pq.Error.
func (e *EndedError) Unwrap() error { return e.Server }

// tailSize bounds the bytes a Conn keeps of what it last read, to find the
// server's FATAL at the end of the stream. PostgreSQL's messages for ending
// a session are about 120 bytes; a reason longer than this is not found,
// and the error is the network error alone.
const tailSize = 1024

// tail keeps the last tailSize bytes that a Conn's reads returned.
type tail struct {
	b [tailSize]byte
	n int
}

// keep appends p, dropping the oldest bytes beyond tailSize.
func (t *tail) keep(p []byte) {
	if len(p) >= tailSize {
		t.n = copy(t.b[:], p[len(p)-tailSize:])
		return
	}
	if over := t.n + len(p) - tailSize; over > 0 {
		t.n = copy(t.b[:], t.b[over:t.n])
	}
	t.n += copy(t.b[t.n:], p)
}

// fatalAtEnd returns the server's FATAL or PANIC ErrorResponse with which
// b ends, or nil. It takes the first position from which an ErrorResponse's
// length reaches exactly the end of b and whose fields parse with such a
// severity.
func fatalAtEnd(b []byte) *pq.Error {
	for i := 0; i+5 <= len(b); i++ {
		if b[i] != errorResponse || 1+int(binary.BigEndian.Uint32(b[i+1:])) != len(b)-i {
			continue
		}
		if e := parseFatal(b[i+5:]); e != nil {
			return e
		}
	}
	return nil
}

// fatalFirst returns the server's FATAL or PANIC ErrorResponse among the
// whole messages at the start of b, skipping the asynchronous ones
// (notices, notifications, parameter changes) before it, or nil.
func fatalFirst(b []byte) *pq.Error {
	for len(b) >= 5 {
		n := 1 + int(binary.BigEndian.Uint32(b[1:]))
		if n < 5 || n > len(b) {
			return nil
		}
		switch b[0] {
		case errorResponse:
			return parseFatal(b[5:n])
		case 'N', 'A', 'S':
			b = b[n:]
		default:
			return nil
		}
	}
	return nil
}

// parseFatal parses the fields of an ErrorResponse's body: a code byte and
// a NUL-terminated string each, then a NUL. It returns nil unless they are
// well formed and the severity is FATAL or PANIC.
func parseFatal(body []byte) *pq.Error {
	e := &pq.Error{}
	var severity string // 'V', not localized; 'S' when the server sends no 'V'
	for len(body) > 0 && body[0] != 0 {
		end := bytes.IndexByte(body[1:], 0)
		if end < 0 {
			return nil
		}
		code, value := body[0], string(body[1:1+end])
		body = body[2+end:]
		switch code {
		case 'S':
			e.Severity = value
		case 'V':
			severity = value
		case 'C':
			e.Code = pqerror.Code(value)
		case 'M':
			e.Message = value
		case 'D':
			e.Detail = value
		case 'H':
			e.Hint = value
		case 'W':
			e.Where = value
		case 'F':
			e.File = value
		case 'L':
			e.Line = value
		case 'R':
			e.Routine = value
		}
	}
	if severity == "" {
		severity = e.Severity
	}
	if len(body) != 1 || e.Code == "" || (severity != pqerror.SeverityFatal && severity != pqerror.SeverityPanic) {
		return nil
	}
	return e
}
