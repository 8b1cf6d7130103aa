package lakebasetest

import (
	"io"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/lakebase-go/lakebase/lakebasetest/pgserver"
)

// rawClient speaks the protocol to a gateway message by message.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	fe   *pgproto3.Frontend
}

func dialRaw(t *testing.T, g *Gateway) *rawClient {
	t.Helper()
	conn, err := net.Dial("tcp", net.JoinHostPort(g.Host(), strconv.Itoa(g.Port())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawClient{t: t, conn: conn, fe: pgproto3.NewFrontend(conn, conn)}
}

func (c *rawClient) send(msgs ...pgproto3.FrontendMessage) {
	c.t.Helper()
	for _, m := range msgs {
		c.fe.Send(m)
	}
	if err := c.fe.Flush(); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawClient) receive() pgproto3.BackendMessage {
	c.t.Helper()
	msg, err := c.fe.Receive()
	if err != nil {
		c.t.Fatal(err)
	}
	return msg
}

// wantError reads an ErrorResponse with code, then the end of the stream.
func (c *rawClient) wantError(code string) {
	c.t.Helper()
	msg := c.receive()
	if e, ok := msg.(*pgproto3.ErrorResponse); !ok || e.Code != code || e.Severity != "FATAL" {
		c.t.Fatalf("got %#v, want FATAL %s", msg, code)
	}
	if _, err := c.conn.Read(make([]byte, 1)); err != io.EOF {
		c.t.Fatalf("after the error: %v, want the gateway to hang up", err)
	}
}

func TestGatewayProtocol(t *testing.T) {
	t.Parallel()
	w := newGatewayWorld(t)
	g := w.gateway(t, db1Target, false)
	token := w.mint(alice, db1Target, time.Hour)

	t.Run("declines GSS encryption and negotiates protocol 3.0", func(t *testing.T) {
		c := dialRaw(t, g)
		req, _ := (&pgproto3.GSSEncRequest{}).Encode(nil)
		if _, err := c.conn.Write(req); err != nil {
			t.Fatal(err)
		}
		answer := make([]byte, 1)
		if _, err := io.ReadFull(c.conn, answer); err != nil || answer[0] != 'N' {
			t.Fatalf("answer to GSSENCRequest = %q, %v; want N", answer, err)
		}
		c.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion32, Parameters: map[string]string{
			"user": alice, "database": pgserver.DefaultDatabase, "_pq_.test_option": "on",
		}})
		if m, ok := c.receive().(*pgproto3.NegotiateProtocolVersion); !ok || m.NewestMinorProtocol != 0 ||
			!slices.Equal(m.UnrecognizedOptions, []string{"_pq_.test_option"}) {
			t.Fatalf("got %#v, want NegotiateProtocolVersion 3.0 naming the option", m)
		}
		if _, ok := c.receive().(*pgproto3.AuthenticationCleartextPassword); !ok {
			t.Fatal("the gateway did not ask for a clear-text password")
		}
		c.send(&pgproto3.PasswordMessage{Password: token})

		var sawOK, sawVersion, sawKey bool
	login:
		for {
			switch m := c.receive().(type) {
			case *pgproto3.AuthenticationOk:
				sawOK = true
			case *pgproto3.ParameterStatus:
				sawVersion = sawVersion || m.Name == "server_version"
			case *pgproto3.BackendKeyData:
				sawKey = m.ProcessID != 0 && len(m.SecretKey) == 4
			case *pgproto3.ReadyForQuery:
				break login
			default:
				t.Fatalf("unexpected %#v during login", m)
			}
		}
		if !sawOK || !sawVersion || !sawKey {
			t.Fatalf("AuthenticationOk %v, server_version %v, BackendKeyData %v; want all", sawOK, sawVersion, sawKey)
		}

		c.send(&pgproto3.Query{String: "SELECT current_user"})
		var user string
		for {
			m := c.receive()
			if row, ok := m.(*pgproto3.DataRow); ok {
				user = string(row.Values[0])
			}
			if _, ok := m.(*pgproto3.ReadyForQuery); ok {
				break
			}
		}
		if user != alice {
			t.Fatalf("current_user = %q", user)
		}
		c.send(&pgproto3.Terminate{})
	})

	t.Run("refuses a startup without a user", func(t *testing.T) {
		c := dialRaw(t, g)
		c.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"database": pgserver.DefaultDatabase}})
		c.wantError("28000")
	})

	t.Run("refuses anything but a password", func(t *testing.T) {
		c := dialRaw(t, g)
		c.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": alice}})
		if _, ok := c.receive().(*pgproto3.AuthenticationCleartextPassword); !ok {
			t.Fatal("the gateway did not ask for a clear-text password")
		}
		c.send(&pgproto3.Query{String: "SELECT 1"})
		c.wantError("08P01")
	})
}
