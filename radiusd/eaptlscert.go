package radiusd

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The server certificate of PEAP and EAP-TTLS. Supplicants should pin it
// (wpa_supplicant's ca_cert, a Wi-Fi profile's "trusted server
// certificate"): a supplicant that trusts any certificate gives its
// MSCHAPv2 exchange, or with TTLS/PAP its password, to any rogue access
// point. So when radius.eap_tls_cert is not set, the server makes one
// self-signed certificate at first start and keeps it beside the store,
// so that the pin stays valid across restarts, and logs its SHA-256
// fingerprint for the administrator to compare with what devices show.

// Files of the generated certificate, in Options.CertDir.
const (
	eapCertFile = "eap-cert.pem"
	eapKeyFile  = "eap-key.pem"
)

// eapCertificate returns the server certificate: the configured one, or
// the one kept in dir, made there first when missing.
func eapCertificate(cfg Config, dir string, log *slog.Logger) (tls.Certificate, error) {
	if cfg.EAPTLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.EAPTLSCert, cfg.EAPTLSKey)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("radius.eap_tls_cert, radius.eap_tls_key: loading %s and %s: %w", cfg.EAPTLSCert, cfg.EAPTLSKey, err)
		}
		logCertificate(log, cert, "radius.eap_tls_cert", cfg.EAPTLSCert)
		return cert, nil
	}
	if dir == "" {
		return tls.Certificate{}, errors.New("radius: no radius.eap_tls_cert and no directory to keep a self-signed certificate in")
	}
	certPath, keyPath := filepath.Join(dir, eapCertFile), filepath.Join(dir, eapKeyFile)
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err == nil {
		logCertificate(log, cert, "self-signed, kept", certPath)
		return cert, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return tls.Certificate{}, fmt.Errorf("radius: loading the EAP certificate %s and %s: %w", certPath, keyPath, err)
	}
	if _, serr := os.Stat(certPath); serr == nil {
		return tls.Certificate{}, fmt.Errorf("radius: %s exists but %s does not: restore it, or remove both for a new certificate (devices pinning the old one must then be updated)", certPath, keyPath)
	}
	certPEM, keyPEM, err := selfSignedCertificate(time.Now())
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("radius: making a self-signed EAP certificate: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, fmt.Errorf("radius: creating %s for the EAP certificate: %w", dir, err)
	}
	// The key first: a certificate without its key is refused above.
	if err := writeFileSync(keyPath, keyPEM); err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFileSync(certPath, certPEM); err != nil {
		return tls.Certificate{}, err
	}
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("radius: reading back the EAP certificate: %w", err)
	}
	logCertificate(log, cert, "self-signed, made now", certPath)
	return cert, nil
}

// selfSignedCertificate makes an ECDSA P-256 certificate valid for ten
// years. It is its own CA (basic constraints, certificate signing), so
// that OpenSSL-based supplicants accept it as the ca_cert they pin.
func selfSignedCertificate(now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "dird"
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "dird RADIUS " + host, Organization: []string{"dird"}},
		DNSNames:              []string{host},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

// writeFileSync writes a new file with mode 0600 durably: to a temporary
// name, synced, then renamed.
func writeFileSync(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("radius: writing %s: %w", path, err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("radius: writing %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// certFingerprint is the SHA-256 of the certificate's DER, as
// AA:BB:... the way openssl x509 -fingerprint -sha256 prints it.
func certFingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

func logCertificate(log *slog.Logger, cert tls.Certificate, source, path string) {
	if len(cert.Certificate) == 0 {
		return
	}
	args := []any{"source", source, "file", path, "sha256", certFingerprint(cert.Certificate[0])}
	if leaf, err := x509.ParseCertificate(cert.Certificate[0]); err == nil {
		args = append(args, "subject", leaf.Subject.String(), "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	log.Info("radius EAP server certificate", args...)
}
