package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeCerts makes a CA and a server certificate for 127.0.0.1 signed by
// it, and returns the CA, certificate and key PEM file paths.
func writeCerts(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "dird e2e test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("cert.pem", "CERTIFICATE", leafDER), write("key.pem", "PRIVATE KEY", keyDER)
}

// TestTLS covers StartTLS (ldapwhoami -ZZ) and LDAPS with the OpenLDAP
// tools trusting a CA made by the test.
func TestTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	caFile, certFile, keyFile := writeCerts(t, dir)
	d := startDird(t, opts{
		"ldap.tls_cert":     certFile,
		"ldap.tls_key":      keyFile,
		"ldap.ldaps_listen": "127.0.0.1:0",
	})
	trust := []string{"LDAPTLS_CACERT=" + caFile, "LDAPTLS_REQCERT=demand"}
	if d.addrs["ldaps"] == "" {
		t.Fatal("no front=ldaps listening line in the log")
	}
	bindArgs := []string{"-D", adminDN, "-w", adminPW}

	t.Run("StartTLS with -ZZ", func(t *testing.T) {
		r := d.tool(t, runOpts{env: trust}, "ldapwhoami", append([]string{"-ZZ"}, bindArgs...)...)
		expect(t, r, 0, "dn:"+adminDN)
	})
	t.Run("LDAPS", func(t *testing.T) {
		r := runWith(t, runOpts{env: trust}, "ldapwhoami", append([]string{"-x", "-H", "ldaps://" + d.addrs["ldaps"]}, bindArgs...)...)
		expect(t, r, 0, "dn:"+adminDN)
	})
	t.Run("a client that does not trust the certificate refuses it", func(t *testing.T) {
		otherCA, _, _ := writeCerts(t, t.TempDir())
		distrust := []string{"LDAPTLS_CACERT=" + otherCA, "LDAPTLS_REQCERT=demand"}
		r := d.tool(t, runOpts{env: distrust}, "ldapwhoami", append([]string{"-ZZ"}, bindArgs...)...)
		if r.exit == 0 {
			t.Errorf("StartTLS with an untrusted certificate succeeded\n%s", r)
		}
		r = runWith(t, runOpts{env: distrust}, "ldapwhoami", append([]string{"-x", "-H", "ldaps://" + d.addrs["ldaps"]}, bindArgs...)...)
		if r.exit == 0 {
			t.Errorf("LDAPS with an untrusted certificate succeeded\n%s", r)
		}
		// The server survives the failed handshakes.
		expect(t, d.tool(t, runOpts{env: trust}, "ldapwhoami", append([]string{"-ZZ"}, bindArgs...)...), 0, "dn:"+adminDN)
	})
	t.Run("RootDSE offers StartTLS", func(t *testing.T) {
		stdout, stderr, exit := run(t, "ldapsearch", "-x", "-H", d.url, "-LLL", "-b", "", "-s", "base", "supportedExtension")
		expect(t, result{stdout, stderr, exit}, 0, "supportedExtension: 1.3.6.1.4.1.1466.20037")
	})
}

// TestStartTLSWithoutCertificate: -ZZ against a server without TLS fails
// cleanly and the connection's server carries on.
func TestStartTLSWithoutCertificate(t *testing.T) {
	t.Parallel()
	d := startDird(t, nil)
	r := d.tool(t, runOpts{}, "ldapwhoami", "-ZZ", "-D", adminDN, "-w", adminPW)
	if r.exit == 0 {
		t.Errorf("-ZZ succeeded against a server with no certificate\n%s", r)
	}
	refute(t, r, "dn:"+adminDN)
	expect(t, d.whoami(t, adminDN, adminPW), 0, "dn:"+adminDN)
}
