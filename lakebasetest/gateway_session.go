package lakebasetest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

const (
	// handshakeTimeout bounds a client's part of the login, from its first
	// byte (after any waking hold) to its password.
	handshakeTimeout = 30 * time.Second
	// serverLoginTimeout bounds opening a client's session on the server,
	// which queues behind the others when many clients log in at once (the
	// server starts one backend process at a time).
	serverLoginTimeout = 2 * time.Minute
	// cancelTimeout bounds forwarding a cancel request to the server.
	cancelTimeout = 5 * time.Second
)

// session is one client connection through the gateway.
type session struct {
	g       *Gateway
	conn    net.Conn          // the client's connection, TLS once negotiated
	backend *pgproto3.Backend // the protocol on conn
	release func()            // takes back the grants of a scoped credential; nil until login
}

// serve runs one client connection from its first byte to its end.
func (g *Gateway) serve(raw net.Conn) {
	defer g.wg.Done()
	defer g.untrack(raw)
	s := &session{g: g, conn: raw, backend: pgproto3.NewBackend(raw, raw)}
	defer func() { _ = s.conn.Close() }()

	if !g.hold() {
		return
	}
	_ = raw.SetDeadline(time.Now().Add(handshakeTimeout))
	startup, err := s.readStartup()
	if err != nil || startup == nil {
		return
	}
	if g.takeRefusal() {
		g.refused.Add(1)
		s.fatal("57P03", "the database system is starting up")
		return
	}
	server, ok := s.login(startup)
	if !ok {
		return
	}
	defer g.untrack(server)
	defer s.release()
	_ = raw.SetDeadline(time.Time{})
	g.live.Add(1)
	relay(s.conn, server)
	g.live.Add(-1)
}

// readStartup answers SSL and GSS encryption requests and forwards a cancel
// request, until the client sends its startup message. It returns nil,
// nil once a cancel request is handled.
func (s *session) readStartup() (*pgproto3.StartupMessage, error) {
	for {
		msg, err := s.backend.ReceiveStartupMessage()
		if err != nil {
			return nil, err
		}
		switch m := msg.(type) {
		case *pgproto3.StartupMessage:
			return m, nil
		case *pgproto3.SSLRequest:
			if _, ok := s.conn.(*tls.Conn); ok {
				return nil, errors.New("SSL requested twice")
			}
			if _, err := s.conn.Write([]byte{'S'}); err != nil {
				return nil, err
			}
			tlsConn := tls.Server(s.conn, s.g.tls)
			if err := tlsConn.Handshake(); err != nil {
				return nil, err
			}
			s.conn, s.backend = tlsConn, pgproto3.NewBackend(tlsConn, tlsConn)
		case *pgproto3.GSSEncRequest:
			if _, err := s.conn.Write([]byte{'N'}); err != nil {
				return nil, err
			}
		case *pgproto3.CancelRequest:
			s.g.forwardCancel(m)
			return nil, nil
		}
	}
}

// login authenticates the client and opens its session on the server. It
// answers the client either way; on success it returns the server
// connection, which the gateway tracks.
func (s *session) login(startup *pgproto3.StartupMessage) (net.Conn, bool) {
	params := make(map[string]string, len(startup.Parameters))
	var unknownOptions []string
	for k, v := range startup.Parameters {
		switch {
		case strings.HasPrefix(k, "_pq_."):
			unknownOptions = append(unknownOptions, k)
		case k != "user" && k != "database":
			params[k] = v
		}
	}
	if startup.ProtocolVersion != pgproto3.ProtocolVersion30 || len(unknownOptions) > 0 {
		// Like PostgreSQL before 18: protocol 3.0 and no protocol options.
		slices.Sort(unknownOptions)
		s.backend.Send(&pgproto3.NegotiateProtocolVersion{UnrecognizedOptions: unknownOptions})
	}
	user := startup.Parameters["user"]
	if user == "" {
		s.fatal("28000", "no PostgreSQL user name specified in startup packet")
		return nil, false
	}
	password, err := s.askPassword()
	if err != nil {
		return nil, false
	}
	// The client has said all it has to say. Opening its server session can
	// take long when many log in at once: that wait has its own bound, and
	// ends in a FATAL message, not in a connection cut mid-write (which the
	// client would see as a TLS error).
	_ = s.conn.SetDeadline(time.Time{})

	native := false
	var cfg *pgconn.Config
	switch {
	case !s.g.opts.NativeOnly && s.g.opts.Store.check(password, user, s.g.opts.Target) == nil:
		cfg = s.g.opts.Server.ConnConfig(user, "")
	case s.g.opts.NativeLogin && password != "":
		native = true
		cfg = s.g.opts.Server.ConnConfig(user, password)
	default:
		s.rejectPassword(user)
		return nil, false
	}
	cfg.Database = startup.Parameters["database"] // empty: the server's default, the user name
	cfg.RuntimeParams = params

	ctx, cancel := context.WithTimeout(s.g.ctx, serverLoginTimeout)
	defer cancel()
	if s.g.opts.Pooler != nil {
		var ok bool
		if cfg, ok = s.throughPooler(ctx, user, cfg, native); !ok {
			return nil, false
		}
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		s.refuse(user, native, err)
		return nil, false
	}
	if err := conn.SyncConn(ctx); err != nil {
		_ = conn.Close(ctx)
		s.fatal("08006", "lakebasetest gateway: lost the server")
		return nil, false
	}
	if s.release, err = s.grantClaims(ctx, user, password, cfg.Database); err != nil {
		_ = conn.Close(ctx)
		s.fatal("XX000", err.Error())
		return nil, false
	}
	hc, err := conn.Hijack()
	if err != nil {
		_ = conn.Close(ctx)
		s.release()
		return nil, false
	}
	if !s.g.track(hc.Conn) {
		_ = hc.Conn.Close()
		s.release()
		return nil, false
	}

	// Counted before the client hears of it, so that a test reading the
	// counters after its login returned sees this login.
	s.g.accepted.Add(1)
	s.backend.Send(&pgproto3.AuthenticationOk{})
	for _, name := range slices.Sorted(maps.Keys(hc.ParameterStatuses)) {
		s.backend.Send(&pgproto3.ParameterStatus{Name: name, Value: hc.ParameterStatuses[name]})
	}
	s.backend.Send(&pgproto3.BackendKeyData{ProcessID: hc.PID, SecretKey: hc.SecretKey})
	s.backend.Send(&pgproto3.ReadyForQuery{TxStatus: hc.TxStatus})
	if err := s.backend.Flush(); err != nil {
		_ = hc.Conn.Close()
		s.g.untrack(hc.Conn)
		s.release()
		return nil, false
	}
	return hc.Conn, true
}

// refuse answers a login that the server, or PgBouncer, refused with err:
// a native role's wrong password as the gateway's own refusal, the
// server's error as it came, anything else as a server out of reach.
func (s *session) refuse(user string, native bool, err error) {
	var pgErr *pgconn.PgError
	isPgErr := errors.As(err, &pgErr)
	switch {
	case native && isPgErr && pgErr.Code == "28P01":
		s.rejectPassword(user)
	case isPgErr:
		s.g.rejected.Add(1)
		s.send(errorResponse(pgErr))
	default:
		s.g.rejected.Add(1)
		s.fatal("08006", "lakebasetest gateway: could not reach the server")
	}
}

// askPassword asks the client for its password in clear text.
func (s *session) askPassword() (string, error) {
	s.backend.Send(&pgproto3.AuthenticationCleartextPassword{})
	if err := s.backend.Flush(); err != nil {
		return "", err
	}
	if err := s.backend.SetAuthType(pgproto3.AuthTypeCleartextPassword); err != nil {
		return "", err
	}
	msg, err := s.backend.Receive()
	if err != nil {
		return "", err
	}
	pw, ok := msg.(*pgproto3.PasswordMessage)
	if !ok {
		s.fatal("08P01", fmt.Sprintf("expected password response, got message type %T", msg))
		return "", errors.New("no password")
	}
	return pw.Password, nil
}

// rejectPassword answers a wrong password exactly as PostgreSQL does.
func (s *session) rejectPassword(user string) {
	s.g.rejected.Add(1)
	s.fatal("28P01", `password authentication failed for user "`+user+`"`)
}

// fatal sends the client a FATAL error; the caller then hangs up.
func (s *session) fatal(code, message string) {
	s.send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: message})
}

func (s *session) send(msg pgproto3.BackendMessage) {
	s.backend.Send(msg)
	_ = s.backend.Flush()
}

// errorResponse turns the server's error back into the message it came in.
func errorResponse(e *pgconn.PgError) *pgproto3.ErrorResponse {
	return &pgproto3.ErrorResponse{
		Severity:            e.Severity,
		SeverityUnlocalized: e.SeverityUnlocalized,
		Code:                e.Code,
		Message:             e.Message,
		Detail:              e.Detail,
		Hint:                e.Hint,
		Position:            e.Position,
		InternalPosition:    e.InternalPosition,
		InternalQuery:       e.InternalQuery,
		Where:               e.Where,
		SchemaName:          e.SchemaName,
		TableName:           e.TableName,
		ColumnName:          e.ColumnName,
		DataTypeName:        e.DataTypeName,
		ConstraintName:      e.ConstraintName,
		File:                e.File,
		Line:                e.Line,
		Routine:             e.Routine,
	}
}

// relay copies bytes both ways until either side closes, then closes both.
func relay(client, server net.Conn) {
	done := make(chan struct{})
	go func() {
		copyPlain(server, client)
		_ = server.Close()
		_ = client.Close()
		close(done)
	}()
	copyPlain(client, server)
	_ = client.Close()
	_ = server.Close()
	<-done
}

// copyPlain copies through a buffer of its own. io.Copy would splice plain
// TCP and unix sockets through a pipe held for the whole session, which
// costs two descriptors per direction and gains nothing on the small
// messages of a SQL session.
func copyPlain(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	_, _ = io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, buf)
}

// forwardCancel passes a cancel request on to the server and waits until
// the server has read it, as clients expect of PostgreSQL.
func (g *Gateway) forwardCancel(req *pgproto3.CancelRequest) {
	buf, err := req.Encode(nil)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(g.ctx, cancelTimeout)
	defer cancel()
	network, address := "tcp", net.JoinHostPort(g.opts.Server.Host(), strconv.Itoa(g.opts.Server.Port()))
	if strings.HasPrefix(g.opts.Server.Host(), "/") { // an existing server named by its socket directory
		network, address = "unix", filepath.Join(g.opts.Server.Host(), ".s.PGSQL."+strconv.Itoa(g.opts.Server.Port()))
	}
	if g.opts.Pooler != nil {
		b, err := g.opts.Pooler(ctx)
		if err != nil {
			return
		}
		network, address = b.CancelAddress()
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, address)
	if err != nil {
		return
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(cancelTimeout))
	if _, err := c.Write(buf); err == nil {
		_, _ = io.Copy(io.Discard, c) // the server hangs up once done
	}
}
