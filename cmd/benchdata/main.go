// Command benchdata writes the data set of make bench (bench/run.sh): one
// LDIF that both dird import and OpenLDAP's slapadd load, and the
// FreeRADIUS users file with the same accounts, so that all three servers
// answer for the same people with the same password hashes.
//
// The LDIF holds the base entry, ou=people, N users userNNNNN
// (inetOrgPerson + posixAccount) with one {SSHA} userPassword each (its own
// salt), and A users argonNNNNN with an {ARGON2} hash at the parameters
// given, in the form OpenLDAP's argon2 module and dird's policy package both
// verify ($argon2id$v=19$m=...,t=...,p=...$salt$hash). The argon2id hash is
// computed once and shared: one such hash costs tens of milliseconds and
// 64 MiB, and a per-user salt changes nothing that is measured.
//
// The users file gives FreeRADIUS (rlm_files) each userNNNNN with the same
// {SSHA} value (as Password-With-Header, which rlm_pap reads as
// SSHA-Password), and a twin clearNNNNN with the password as
// Cleartext-Password: the cleartext-equivalent PAP figure, and PEAP's
// MS-CHAPv2, which needs the cleartext (or an NT hash) on the server.
package main

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"flag"
	"fmt"
	"os"

	"golang.org/x/crypto/argon2"
)

func main() {
	var (
		n        = flag.Int("users", 10000, "number of userNNNNN accounts ({SSHA})")
		nArgon   = flag.Int("argon-users", 256, "number of argonNNNNN accounts ({ARGON2})")
		base     = flag.String("base", "dc=example,dc=com", "base DN")
		password = flag.String("password", "Bench-Password-2026", "every user's password")
		argonM   = flag.Uint("argon2-m", 65536, "argon2id memory in KiB")
		argonT   = flag.Uint("argon2-t", 2, "argon2id passes")
		argonP   = flag.Uint("argon2-p", 1, "argon2id parallelism")
		ldifOut  = flag.String("ldif", "", "write the LDIF here (required)")
		usersOut = flag.String("radius-users", "", "write the FreeRADIUS users file here (optional)")
	)
	flag.Parse()
	if *ldifOut == "" || *n < 1 || *n > 100000 || *nArgon < 0 || *nArgon > 99999 {
		fmt.Fprintln(os.Stderr, "benchdata: -ldif is required; -users is 1..100000, -argon-users 0..99999")
		os.Exit(2)
	}
	if err := run(*n, *nArgon, *base, *password, uint32(*argonM), uint32(*argonT), uint8(*argonP), *ldifOut, *usersOut); err != nil {
		fmt.Fprintln(os.Stderr, "benchdata:", err)
		os.Exit(1)
	}
}

func run(n, nArgon int, base, password string, m, t uint32, p uint8, ldifOut, usersOut string) error {
	hashes := make([]string, n)
	for i := range hashes {
		h, err := ssha(password)
		if err != nil {
			return err
		}
		hashes[i] = h
	}
	argonHash := ""
	if nArgon > 0 {
		h, err := argon2id(password, m, t, p)
		if err != nil {
			return err
		}
		argonHash = h
	}
	if err := writeFile(ldifOut, func(w *bufio.Writer) {
		writeLDIF(w, base, hashes, nArgon, argonHash)
	}); err != nil {
		return err
	}
	if usersOut != "" {
		if err := writeFile(usersOut, func(w *bufio.Writer) {
			writeRadiusUsers(w, hashes, password)
		}); err != nil {
			return err
		}
	}
	return nil
}

// ssha returns {SSHA}base64(SHA-1(password+salt)+salt) with an 8-byte
// random salt, as slappasswd writes it.
func ssha(password string) (string, error) {
	salt := make([]byte, 8)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("reading salt: %w", err)
	}
	h := sha1.New()
	h.Write([]byte(password))
	h.Write(salt)
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(h.Sum(nil), salt...)), nil
}

// argon2id returns {ARGON2}$argon2id$v=19$m=M,t=T,p=P$salt$hash with a
// 16-byte salt and a 32-byte key in unpadded standard base64, the form
// OpenLDAP's argon2 module writes and dird's policy package verifies.
func argon2id(password string, m, t uint32, p uint8) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("reading salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, t, m, p, 32)
	return fmt.Sprintf("{ARGON2}$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, t, p,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

func writeFile(path string, fill func(*bufio.Writer)) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fill(w)
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", path, err)
	}
	return nil
}

func writeLDIF(w *bufio.Writer, base string, hashes []string, nArgon int, argonHash string) {
	dc := base
	if len(dc) > 3 && dc[:3] == "dc=" {
		dc = dc[3:]
		for i := 0; i < len(dc); i++ {
			if dc[i] == ',' {
				dc = dc[:i]
				break
			}
		}
	}
	fmt.Fprintf(w, "dn: %s\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\ndc: %s\no: %s\n\n", base, dc, dc)
	fmt.Fprintf(w, "dn: ou=people,%s\nobjectClass: top\nobjectClass: organizationalUnit\nou: people\n\n", base)
	for i, h := range hashes {
		writeUser(w, base, fmt.Sprintf("user%05d", i), 10000+i, h)
	}
	for i := 0; i < nArgon; i++ {
		writeUser(w, base, fmt.Sprintf("argon%05d", i), 200000+i, argonHash)
	}
}

func writeUser(w *bufio.Writer, base, uid string, num int, hash string) {
	fmt.Fprintf(w, "dn: uid=%s,ou=people,%s\n", uid, base)
	w.WriteString("objectClass: top\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\n")
	fmt.Fprintf(w, "uid: %s\ncn: Bench %s\nsn: %s\nmail: %s@example.com\n", uid, uid, uid, uid)
	fmt.Fprintf(w, "uidNumber: %d\ngidNumber: 10000\nhomeDirectory: /home/%s\n", num, uid)
	fmt.Fprintf(w, "userPassword: %s\n\n", hash)
}

// writeRadiusUsers writes rlm_files entries: userNNNNN with the LDIF's
// {SSHA} value and clearNNNNN with the cleartext. The hash goes in as
// Password-With-Header, which rlm_pap turns into SSHA-Password: written
// as SSHA-Password directly (an octets attribute), a base64 value that
// happens to begin with "0x" is read as hex and refused.
func writeRadiusUsers(w *bufio.Writer, hashes []string, password string) {
	for i, h := range hashes {
		fmt.Fprintf(w, "user%05d\tPassword-With-Header := %q\n\n", i, h)
	}
	for i := range hashes {
		fmt.Fprintf(w, "clear%05d\tCleartext-Password := %q\n\n", i, password)
	}
}
