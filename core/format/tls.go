package format

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// ServerCertificate returns a self-signed Ed25519 certificate for the
// farmer's identity key. Nothing checks its names or validity period: the
// client pins the key itself (ClientTLSConfig), so the certificate is only
// the envelope TLS needs to carry the key. It is valid for 100 years from
// an hour ago so that no tool flags it as expired.
func ServerCertificate(priv ed25519.PrivateKey) (tls.Certificate, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return tls.Certificate{}, fmt.Errorf("server certificate: private key of %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	pub := priv.Public().(ed25519.PublicKey)
	id, err := NodeIDFromKey(pub)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server certificate: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server certificate: serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: id.String()},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(100, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("server certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: leaf}, nil
}

// ServerTLSConfig returns the farmer's TLS configuration: TLS 1.3 only,
// presenting cert, speaking HTTP/1.1.
func ServerTLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"http/1.1"},
	}
}

// ClientTLSConfig returns the TLS configuration for talking to the farmer
// id: TLS 1.3 only, and the connection is accepted only if the server's
// leaf certificate carries exactly the public key id. Chain and name
// verification are off (InsecureSkipVerify) because there is no CA: the
// key is the identity, and TLS 1.3's CertificateVerify proves the server
// holds its private key. The pin applies to every connection, loopback
// included. A mismatch fails the handshake with an error wrapping
// ErrWrongFarmer.
func ClientTLSConfig(id NodeID) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // replaced by the key pin in VerifyConnection
		NextProtos:         []string{"http/1.1"},
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyPin(cs, id)
		},
	}
}

// errNoCert is returned when the server sent no certificate.
var errNoCert = errors.New("server presented no certificate")

func verifyPin(cs tls.ConnectionState, id NodeID) error {
	if cs.Version != tls.VersionTLS13 {
		return fmt.Errorf("tls: %w: negotiated version %#x, want TLS 1.3", ErrWrongFarmer, cs.Version)
	}
	if len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("tls: %w: %w", ErrWrongFarmer, errNoCert)
	}
	pub, ok := cs.PeerCertificates[0].PublicKey.(ed25519.PublicKey)
	if !ok {
		return fmt.Errorf("tls: %w: server key is %T, want ed25519", ErrWrongFarmer, cs.PeerCertificates[0].PublicKey)
	}
	if !pub.Equal(id.PublicKey()) {
		have, _ := NodeIDFromKey(pub)
		return fmt.Errorf("tls: %w: server is %s, want %s", ErrWrongFarmer, have, id)
	}
	return nil
}
