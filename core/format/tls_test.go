package format

import (
	"crypto/tls"
	"errors"
	"net"
	"testing"
)

// handshake runs one TLS handshake over a loopback socket: the server uses
// key seed serverSeed, the client pins id.
func handshake(t *testing.T, serverSeed byte, id NodeID, serverMax uint16) error {
	t.Helper()
	cert, err := ServerCertificate(testKey(t, serverSeed))
	if err != nil {
		t.Fatal(err)
	}
	scfg := ServerTLSConfig(cert)
	if serverMax != 0 {
		scfg.MinVersion = tls.VersionTLS12
		scfg.MaxVersion = serverMax
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", scfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_ = c.(*tls.Conn).Handshake()
		c.Close()
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := tls.Client(conn, ClientTLSConfig(id))
	err = c.Handshake()
	c.Close()
	<-done
	return err
}

func TestFormatTLSPinning(t *testing.T) {
	if err := handshake(t, 30, testNodeID(t, 30), 0); err != nil {
		t.Fatalf("handshake with the pinned key: %v", err)
	}
	if err := handshake(t, 30, testNodeID(t, 31), 0); !errors.Is(err, ErrWrongFarmer) {
		t.Fatalf("handshake with another key: %v, want ErrWrongFarmer", err)
	}
	if err := handshake(t, 30, testNodeID(t, 30), tls.VersionTLS12); err == nil {
		t.Fatal("TLS 1.2 server accepted")
	}
}
